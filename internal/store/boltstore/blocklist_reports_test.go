package boltstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// TestReporterNumbersAreNeverStored looks through every key and value of
// the file for the reporting customer's number, in any of its forms.
func TestReporterNumbersAreNeverStored(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		t.Fatal(err)
	}
	const reporter = phone.Number("+8613912345678")
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := blocklist.Report{CallerNumber: "+8617012345678", Note: "scam", OccurTime: now, CreateTime: now}
	lim := blocklist.ReportLimits{MaxPerDay: 10, Notes: 5, Window: time.Hour}
	if _, _, err := s.AddReport(context.Background(), r, reporter, lim, audit.Event{}); err != nil {
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

// TestReporterPseudonymsAreKeyedHMACs: what the store keeps of a reporter
// is no digest anyone can compute from the number alone (a plain SHA-256
// of a phone number is reversed by trying every number), and another server
// key makes another pseudonym.
func TestReporterPseudonymsAreKeyedHMACs(t *testing.T) {
	t.Parallel()
	const reporter = phone.Number("+8613912345678")
	stored := func(key []byte) string {
		db := openDB(t)
		s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: key})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		r := blocklist.Report{CallerNumber: "+8617012345678", OccurTime: now, CreateTime: now}
		if _, _, err := s.AddReport(context.Background(), r, reporter, blocklist.ReportLimits{MaxPerDay: 10}, audit.Event{}); err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Reporter string `json:"reporter"`
		}
		err = db.View(func(tx *bolt.Tx) error {
			_, v := tx.Bucket([]byte("blocklist/report_log")).Cursor().First()
			return json.Unmarshal(v, &rec)
		})
		if err != nil || rec.Reporter == "" {
			t.Fatalf("read the stored report: %v (%+v)", err, rec)
		}
		return rec.Reporter
	}
	a := stored(testPseudonymKey)
	b := stored([]byte("another server key, 32 bytes lon"))
	if a == b {
		t.Errorf("two server keys give the same pseudonym %s", a)
	}
	if again := stored(testPseudonymKey); again != a {
		t.Errorf("one key gives two pseudonyms, %s and %s: repeat reporters would count twice", a, again)
	}
	// Every unkeyed digest of the number that the store could have kept.
	for _, in := range []string{reporter.String(), reporter.Digits(), "callverify/blocklist/reporter\x00" + reporter.String()} {
		sum := sha256.Sum256([]byte(in))
		for _, d := range []string{hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:16])} {
			if a == d {
				t.Errorf("the stored pseudonym %s is SHA-256(%q): anyone can reverse it", a, in)
			}
		}
	}
}

func TestBlocklistStoreRefusesAShortPseudonymKey(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	if _, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: []byte("short")}); err == nil {
		t.Error("NewBlocklistStore took a 5-byte pseudonym key")
	}
}
