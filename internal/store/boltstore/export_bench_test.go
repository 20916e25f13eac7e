package boltstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// BenchmarkBulkExport measures the store's side of an export: every entry
// read in pages of 1,000 by pattern, as blocklist.Service.ExportEntries
// reads them. The 100k entries are written once per run, before the timer.
//
//	go test -run '^$' -bench BulkExport -benchtime 5x ./internal/store/boltstore/
func BenchmarkBulkExport(b *testing.B) {
	db, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	batch := make([]blocklist.Entry, 0, blocklist.ImportBatch)
	for i := range n {
		k := uint64(i)*2654435761%7_000_000_000 + 13_000_000_000
		batch = append(batch, blocklist.Entry{
			Pattern: fmt.Sprintf("+86%d", k), Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
			Reason: "refund scam script", Source: blocklist.SourceImport, Confidence: 70,
			CreateBy: "analyst-1", CreateTime: now, UpdateTime: now,
		})
		if len(batch) == cap(batch) || i == n-1 {
			if _, _, err := s.ImportEntries(ctx, batch, now, audit.Event{}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportAllocs()
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
}
