package boltstore_test

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// The report records themselves (with their reporters' pseudonyms) leave
// the file with their retention, and a store written before the group
// index gets its groups indexed when opened.
func TestPruneReportsEmptiesTheFileOfOldRecords(t *testing.T) {
	t.Parallel()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	old := now.Add(-100 * 24 * time.Hour)
	lim := blocklist.ReportLimits{MaxPerDay: 10}
	for i, at := range []time.Time{old, old.Add(time.Hour), now} {
		r := blocklist.Report{CallerNumber: phone.Number("+861701234567" + string(rune('0'+i))), OccurTime: at, CreateTime: at}
		if _, _, err := s.AddReport(ctx, r, "+8613912345678", lim, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(bucket string) int {
		n := 0
		if err := db.View(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(bucket)).ForEach(func(_, _ []byte) error { n++; return nil })
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// As a store was before: no group index; opening it builds one.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("blocklist/reports_by_last")) }); err != nil {
		t.Fatal(err)
	}
	if s, err = boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneReports(ctx, now.Add(-90*24*time.Hour), 100, audit.Event{Action: "report.prune"})
	if err != nil || n != 4 {
		t.Fatalf("PruneReports = %d, %v; want 2 records and 2 groups", n, err)
	}
	for bucket, want := range map[string]int{
		"blocklist/report_log": 1, "blocklist/reports": 1, "blocklist/report_rank": 1,
		"blocklist/reporters": 1, "blocklist/reports_by_last": 1,
	} {
		if got := count(bucket); got != want {
			t.Errorf("%s holds %d keys after pruning, want %d", bucket, got, want)
		}
	}
}
