package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// The store's side of a bulk import and export on a standalone Redis (the
// test binary's shared server, no persistence): what Redis round trips and
// scripts cost, without the network between client and callverifyd.

// cpuTimes are the CPU time this process and the benchmark's Redis have
// used: the machine is shared, and the CPU a row costs does not depend on
// the others' load as its wall time does.
type cpuTimes struct{ self, redis time.Duration }

func benchCPU(b *testing.B) cpuTimes {
	b.Helper()
	return cpuTimes{self: redistest.ProcessCPUTime(b), redis: redistest.CPUTime(b, redistest.Standalone(b).Client(b))}
}

// reportCPU reports the CPU time per row since from: this process's
// (cpu-us/row) and Redis's (redis-cpu-us/row).
func reportCPU(b *testing.B, from cpuTimes, rows int) {
	to := benchCPU(b)
	b.ReportMetric(float64((to.self-from.self).Nanoseconds())/float64(rows)/1000, "cpu-us/row")
	b.ReportMetric(float64((to.redis-from.redis).Nanoseconds())/float64(rows)/1000, "redis-cpu-us/row")
}

func benchBlocklistStore(b *testing.B) *redisstore.BlocklistStore {
	b.Helper()
	ring, err := hmackeys.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := redisstore.NewBlocklistStore(redistest.Standalone(b).Client(b), redisstore.BlocklistOptions{
		KeyPrefix: strings.TrimSuffix(redistest.Prefix(b), ":"), PseudonymKeys: ring,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchEntries is batch i of new entries, blocklist.ImportBatch of them.
func benchEntries(batch []blocklist.Entry, i int, now time.Time) []blocklist.Entry {
	batch = batch[:0]
	for j := range blocklist.ImportBatch {
		k := uint64(i*blocklist.ImportBatch+j)*2654435761%7_000_000_000 + 13_000_000_000
		batch = append(batch, blocklist.Entry{
			Pattern: fmt.Sprintf("+86%d", k), Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
			Reason: "refund scam script", Source: blocklist.SourceImport, Confidence: 70,
			CreateBy: "analyst-1", CreateTime: now, UpdateTime: now,
		})
	}
	return batch
}

// BenchmarkBulkImport: one op is one import batch of new entries.
//
//	go test -run '^$' -bench BulkImport -benchtime 100x ./internal/store/redisstore/
func BenchmarkBulkImport(b *testing.B) {
	s := benchBlocklistStore(b)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	batch := make([]blocklist.Entry, 0, blocklist.ImportBatch)
	b.ReportAllocs()
	cpu := benchCPU(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		batch = benchEntries(batch, i, now)
		b.StartTimer()
		if _, _, err := s.ImportEntries(ctx, batch, now, audit.Event{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*blocklist.ImportBatch)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu, b.N*blocklist.ImportBatch)
}

// BenchmarkBulkExport: one op reads every one of 50k entries in pages of
// 1,000 by pattern, as blocklist.Service.ExportEntries does. The entries
// are written once per run, before the timer.
//
//	go test -run '^$' -bench BulkExport -benchtime 3x ./internal/store/redisstore/
func BenchmarkBulkExport(b *testing.B) {
	s := benchBlocklistStore(b)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	const batches = 50
	const n = batches * blocklist.ImportBatch
	batch := make([]blocklist.Entry, 0, blocklist.ImportBatch)
	for i := range batches {
		batch = benchEntries(batch, i, now)
		if _, _, err := s.ImportEntries(ctx, batch, now, audit.Event{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	cpu := benchCPU(b)
	b.ResetTimer()
	for range b.N {
		got, after := 0, ""
		for {
			page, err := s.ListEntries(ctx, blocklist.EntryFilter{}, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			got += len(page)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Pattern
		}
		if got != n {
			b.Fatalf("exported %d entries, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu, b.N*n)
}
