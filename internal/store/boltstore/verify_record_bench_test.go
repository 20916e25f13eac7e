package boltstore

import (
	"encoding/json"
	"testing"
)

// BenchmarkCallRecord compares the two stored forms of a call as every
// read of a call decodes it (GetCall, CheckCaller's ListCallsTo, code
// attempts): the JSON written before recordpb, and recordpb.
//
//	go test -run '^$' -bench CallRecord -benchmem ./internal/store/boltstore/
func BenchmarkCallRecord(b *testing.B) {
	r := vCallOf(oldCall)
	pb, err := vEncodeCall(r)
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		v    []byte
	}{{"decode/json", js}, {"decode/proto", pb}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := vDecodeCall(bc.v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(bc.v)), "B/record")
		})
	}
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/proto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := vEncodeCall(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
