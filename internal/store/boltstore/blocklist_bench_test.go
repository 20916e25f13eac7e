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

// BenchmarkImportEntries measures the store's side of a bulk import:
// batches of blocklist.ImportBatch new entries, one transaction each.
//
//	go test -run '^$' -bench ImportEntries -benchtime 200x ./internal/store/boltstore/
func BenchmarkImportEntries(b *testing.B) {
	db, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	batch := make([]blocklist.Entry, blocklist.ImportBatch)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		for j := range batch {
			k := uint64(i*len(batch)+j)*2654435761%7_000_000_000 + 13_000_000_000
			batch[j] = blocklist.Entry{
				Pattern: fmt.Sprintf("+86%d", k), Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
				Reason: "refund scam script", Source: blocklist.SourceImport, Confidence: 70,
				CreateBy: "analyst-1", CreateTime: now, UpdateTime: now,
			}
		}
		if _, _, err := s.ImportEntries(ctx, batch, now, audit.Event{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "rows/s")
}
