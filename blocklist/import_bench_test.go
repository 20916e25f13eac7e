package blocklist_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
)

// BenchmarkImport measures the domain's import on the embedded store: row
// validation (libphonenumber for each number), batching and the store's
// transactions, without the network.
//
//	go test -run '^$' -bench 'Import$' -benchtime 200000x ./blocklist/
func BenchmarkImport(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	im := e.svc.NewImporter(analyst)
	b.ResetTimer()
	for i := range b.N {
		k := uint64(i)*2654435761%1_000_000_000 + 13_000_000_000
		if err := im.Add(ctx, 0, blocklist.Entry{Pattern: fmt.Sprintf("+86%d", k), Category: blocklist.CategoryScam, Reason: "refund scam script", Confidence: 70}); err != nil {
			b.Fatal(err)
		}
	}
	sum, err := im.Finish(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if sum.Imported != int64(b.N) {
		b.Fatalf("imported %d of %d (%+v)", sum.Imported, b.N, sum.Errors[:min(3, len(sum.Errors))])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
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
