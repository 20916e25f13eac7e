package boltstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// TestReporterNumbersAreNeverStored looks through every key and value of
// the file for the reporting customer's number, in any of its forms.
func TestReporterNumbersAreNeverStored(t *testing.T) {
	t.Parallel()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := boltstore.NewBlocklistStore(db)
	if err != nil {
		t.Fatal(err)
	}
	const reporter = phone.Number("+8613912345678")
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := blocklist.Report{CallerNumber: "+8617012345678", Note: "scam", OccurTime: now, CreateTime: now}
	lim := blocklist.ReportLimits{MaxPerDay: 10, Notes: 5, Window: time.Hour}
	if _, _, err := s.AddReport(context.Background(), r, reporter, lim); err != nil {
		t.Fatal(err)
	}
	needle := []byte(reporter.Digits()[2:]) // the national number, with or without +86
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if bytes.Contains(k, needle) || bytes.Contains(v, needle) {
					t.Errorf("bucket %s holds the reporter's number: %q = %q", name, k, v)
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
