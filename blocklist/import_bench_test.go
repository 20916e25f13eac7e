package blocklist_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
)

// importBenchRows is how many rows BenchmarkImport imports: 1M, 100k with
// -short, or CALLVERIFY_BENCH_IMPORT_ROWS (the load harness's own test
// runs the benchmark for its plumbing, on a few rows).
func importBenchRows() int {
	if v := os.Getenv("CALLVERIFY_BENCH_IMPORT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("CALLVERIFY_BENCH_IMPORT_ROWS=%q: want a positive number of rows", v))
		}
		return n
	}
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

// benchEntries builds n distinct import rows once per run: Chinese mobile
// numbers in canonical E.164 scattered over the number space (not in key
// order), as a feed from another system would have them.
func benchEntries(n int) []blocklist.Entry {
	rows := make([]blocklist.Entry, n)
	for i := range rows {
		k := uint64(i)*2654435761%1_000_000_000 + 13_000_000_000
		rows[i] = blocklist.Entry{Pattern: fmt.Sprintf("+86%d", k), Category: blocklist.CategoryScam,
			Reason: "refund scam script", Confidence: 70}
	}
	return rows
}

// BenchmarkImport measures the domain's import on the embedded store: row
// validation, batching, the store's transactions and the index catching
// up, without the network. Each iteration imports the same 1M rows (built
// once per run) into a fresh store.
//
//	go test -run '^$' -bench 'Import$' -benchtime 1x ./blocklist/
func BenchmarkImport(b *testing.B) {
	rows := benchEntries(importBenchRows())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		e := newEnv(b)
		b.StartTimer()
		im := e.svc.NewImporter(analyst)
		for i, r := range rows {
			if err := im.Add(ctx, int64(i+1), r); err != nil {
				b.Fatal(err)
			}
		}
		sum, err := im.Finish(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if sum.Imported != int64(len(rows)) {
			b.Fatalf("imported %d of %d (%+v)", sum.Imported, len(rows), sum.Errors[:min(3, len(sum.Errors))])
		}
		if got, ok := e.svc.Match(phone.Number(rows[len(rows)-1].Pattern)); !ok || got.Confidence != 70 {
			b.Fatalf("the last row does not match after Finish: %+v %v", got, ok)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReload measures the start-up path: a full scan of the embedded
// store into a new index (1M entries, written straight to the store first).
//
//	go test -run '^$' -bench Reload -benchtime 3x ./blocklist/
func BenchmarkReload(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 1M entries")
	}
	e := newEnv(b)
	ctx := context.Background()
	const n = 1_000_000
	batch := make([]blocklist.Entry, 0, 5000)
	now := e.clock.Now()
	for i := range n {
		k := uint64(i)*2654435761%1_000_000_000 + 13_000_000_000
		batch = append(batch, blocklist.Entry{Pattern: fmt.Sprintf("+86%d", k), Kind: blocklist.KindExact,
			Category: blocklist.CategoryScam, Source: blocklist.SourceImport, Reason: "refund scam script", Confidence: 70,
			CreateBy: "analyst-1", CreateTime: now, UpdateTime: now})
		if len(batch) == cap(batch) {
			if _, _, err := e.store.ImportEntries(ctx, batch, now, audit.Event{}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := e.svc.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := e.svc.Index().Len(); got != n {
		b.Fatalf("index holds %d entries, want %d", got, n)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/reload")
}
