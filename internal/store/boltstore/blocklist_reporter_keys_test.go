package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// A pseudonym key rotates by putting a new key first in the ring: a
// reporter who reported under the old key keeps today's count and stays one
// reporter of a number, and once re-keyed by a report under the new ring
// the old key may go.
func TestRotatingThePseudonymKeyKeepsAReportersDailyLimitAndIdentity(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	store := func(keys ...[]byte) *boltstore.BlocklistStore {
		t.Helper()
		ring, err := hmackeys.New(keys...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKeys: ring})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	const reporter = phone.Number("+8613912345678")
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	lim := blocklist.ReportLimits{MaxPerDay: 3, Window: 24 * time.Hour}
	report := func(s *boltstore.BlocklistStore, caller phone.Number) (blocklist.ReportedNumber, error) {
		now = now.Add(time.Minute)
		r := blocklist.Report{CallerNumber: caller, OccurTime: now, CreateTime: now}
		_, g, err := s.AddReport(ctx, r, reporter, lim, audit.Event{Actor: "customer", Action: "report.create", Time: now})
		return g, err
	}

	before := store(oldKey)
	for range 2 {
		if _, err := report(before, "+8617012345678"); err != nil {
			t.Fatal(err)
		}
	}

	rotated := store(newKey, oldKey)
	g, err := report(rotated, "+8617012345678")
	if err != nil {
		t.Fatalf("third report of the day after the rotation: %v, want it accepted", err)
	}
	if got, want := g.DistinctReporters, 1; got != want {
		t.Errorf("after the rotation the group has %d distinct reporters, want %d: the old key's reporter counted again", got, want)
	}
	if got, want := g.RecentReporters, 1; got != want {
		t.Errorf("recent reporters = %d, want %d", got, want)
	}
	if _, err := report(rotated, "+8617087654321"); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Errorf("fourth report of the day after the rotation: %v, want ResourceExhausted (2 under the old key + 1 under the new)", err)
	}

	// The reporter was re-keyed by the report under the new ring: the old
	// key can be dropped and today's count and identity remain.
	newOnly := store(newKey)
	if _, err := report(newOnly, "+8617087654321"); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Errorf("a report after dropping the old key: %v, want ResourceExhausted", err)
	}
	now = now.Add(24 * time.Hour)
	g, err = report(newOnly, "+8617012345678")
	if err != nil {
		t.Fatalf("a report the next day: %v", err)
	}
	if got, want := g.DistinctReporters, 1; got != want {
		t.Errorf("after dropping the old key the group has %d distinct reporters, want %d", got, want)
	}
}
