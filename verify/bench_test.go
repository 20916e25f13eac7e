package verify_test

import (
	"context"
	"testing"

	"github.com/callverify/callverify/verify"
)

var algs = []string{verify.AlgES256, verify.AlgEdDSA}

func BenchmarkSignToken(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, withAlg(alg))
			ctx := context.Background()
			c := e.stamp(outbound, aliceRaw).Call
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.SignForTest(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyToken(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, withAlg(alg))
			ctx := context.Background()
			req := verify.VerifyTokenRequest{Token: e.stamp(outbound, aliceRaw).Token}
			b.ReportAllocs()
			for b.Loop() {
				if tr, err := e.svc.VerifyToken(ctx, req); err != nil || !tr.Valid {
					b.Fatal(tr.Failure, err)
				}
			}
		})
	}
}

// BenchmarkStampCall includes the store write: on bbolt that is an fsync,
// which dominates.
func BenchmarkStampCall(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	req := stampReq(outbound, aliceRaw)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.StampCall(ctx, dialer, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckCaller(b *testing.B) {
	for _, tc := range []struct {
		name, caller string
		want         verify.Verdict
	}{
		{"Verified", outbound, verify.VerdictVerified},
		{"OfficialNotCalling", both, verify.VerdictOfficialNotCalling},
		{"Unknown", "+44 20 7946 0958", verify.VerdictUnknown},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			ctx := context.Background()
			e.stamp(outbound, aliceRaw)
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.svc.CheckCaller(ctx, e.alice, tc.caller, "")
				if err != nil || res.Verdict != tc.want {
					b.Fatal(res.Verdict, err)
				}
			}
		})
	}
}
