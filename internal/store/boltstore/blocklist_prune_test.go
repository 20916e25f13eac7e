package boltstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// The report records themselves (with their reporters' pseudonyms) leave
// the file with their retention, and a store written before the group
// index gets its groups indexed when opened.
func TestPruneReportsEmptiesTheFileOfOldRecords(t *testing.T) {
	t.Parallel()
	db := openDB(t)
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
	if err != nil || n != 5 {
		t.Fatalf("PruneReports = %d, %v; want 2 records, 2 groups and the reporter's old day", n, err)
	}
	for bucket, want := range map[string]int{
		"blocklist/report_log": 1, "blocklist/reports": 1, "blocklist/report_rank": 1,
		"blocklist/reporters": 1, "blocklist/reports_by_last": 1, "blocklist/reporter_days_by_day": 1,
	} {
		if got := count(bucket); got != want {
			t.Errorf("%s holds %d keys after pruning, want %d", bucket, got, want)
		}
	}
}

// A store written before retention kept the day counters by reporter
// first; opening it moves them, and today's count still holds.
func TestOpeningAnOlderStoreKeepsTodaysReportCounts(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	lim := blocklist.ReportLimits{MaxPerDay: 2}
	report := func() error {
		r := blocklist.Report{CallerNumber: "+8617012345678", OccurTime: now, CreateTime: now}
		_, _, err := s.AddReport(ctx, r, "+8613912345678", lim, audit.Event{})
		return err
	}
	for range 2 {
		if err := report(); err != nil {
			t.Fatal(err)
		}
	}
	// As the store was: reporter key, day -> count.
	err = db.Update(func(tx *bolt.Tx) error {
		days := tx.Bucket([]byte("blocklist/reporter_days_by_day"))
		old, err := tx.CreateBucket([]byte("blocklist/reporter_days"))
		if err != nil {
			return err
		}
		return days.ForEach(func(k, v []byte) error {
			if err := old.Put(append(append([]byte(nil), k[4:]...), k[:4]...), v); err != nil {
				return err
			}
			return days.Delete(k)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey}); err != nil {
		t.Fatal(err)
	}
	if err := report(); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Errorf("third report of the day after the upgrade: %v, want ResourceExhausted", err)
	}
}
