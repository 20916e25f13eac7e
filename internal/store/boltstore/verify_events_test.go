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
	"github.com/callverify/callverify/verify"
)

var (
	evCustomer = phone.Number("+8613800138000")
	evLine     = phone.Number("+8695188")
	evBase     = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func evStore(t *testing.T, db *bolt.DB) *boltstore.VerifyStore {
	t.Helper()
	s, err := boltstore.NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	bl, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bl.CreateOfficialNumber(context.Background(), blocklist.OfficialNumber{Number: evLine, Direction: blocklist.DirectionOutbound},
		evBase, audit.Event{Action: "official_number.create"}); err != nil && !errors.Is(err, fault.ErrAlreadyExists) {
		t.Fatal(err)
	}
	return s
}

func evCall(id string, at time.Time) verify.Call {
	return verify.Call{ID: id, Caller: evLine, Callee: evCustomer, Reason: verify.ReasonRefund, State: verify.StateActive,
		CreateTime: at, ExpireTime: at.Add(10 * time.Minute), SealedSecret: []byte{1}}
}

func TestPrunedEventsCannotBeResumedFrom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := evStore(t, openDB(t))
	head, err := s.EventsHead(ctx, evCustomer)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"p1", "p2", "p3"} {
		if err := s.CreateCall(ctx, evCall(id, evBase.Add(time.Duration(i)*time.Hour)), audit.Event{Action: "call.stamp"}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.EventsAfter(ctx, evCustomer, head, 10)
	evs := page.Events
	if err != nil || len(evs) != 3 {
		t.Fatalf("EventsAfter = %v, %v; want 3 events", evs, err)
	}
	// Events older than evBase+90m go: p1's and p2's.
	n, err := s.PruneEvents(ctx, evBase.Add(90*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, 2; got != want {
		t.Fatalf("PruneEvents pruned %d, want %d", got, want)
	}
	for _, since := range []string{head, evs[0].ID} {
		if _, err := s.EventsAfter(ctx, evCustomer, since, 10); !errors.Is(err, verify.ErrCursorGone) {
			t.Errorf("EventsAfter(%s) after pruning: %v, want ErrCursorGone", since, err)
		}
	}
	// The last pruned event's position still resumes: nothing after it is gone.
	page, err = s.EventsAfter(ctx, evCustomer, evs[1].ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	got, at := page.Events, page.SinceTime
	if len(got) != 1 || got[0].CallID != "p3" {
		t.Fatalf("EventsAfter(the last pruned) = %v, want p3's STAMPED", got)
	}
	if !at.IsZero() {
		t.Errorf("the time of a pruned position = %v, want zero (unknown)", at)
	}
	// A position beyond the head was never made here.
	if _, err := s.EventsAfter(ctx, evCustomer, "99999", 10); !errors.Is(err, verify.ErrCursorGone) {
		t.Errorf("EventsAfter(beyond the head): %v, want ErrCursorGone", err)
	}
}

// TestStoreWithoutEventBucketsStillWorks opens a file written before the
// outbox existed (no event buckets): it opens, and events flow from then on.
func TestStoreWithoutEventBucketsStillWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := evStore(t, db)
	if err := s.CreateCall(ctx, evCall("old1", evBase), audit.Event{Action: "call.stamp"}); err != nil {
		t.Fatal(err)
	}
	// Make it the old format: no event buckets, no pruning mark.
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"verify/events", "verify/events_by_seq"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s = evStore(t, db)
	head, err := s.EventsHead(ctx, evCustomer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCall(ctx, "old1"); err != nil {
		t.Fatalf("the old call: %v", err)
	}
	if _, err := s.EndCall(ctx, "old1", "", evBase.Add(time.Minute), audit.Event{Action: "call.end"}); err != nil {
		t.Fatal(err)
	}
	page, err := s.EventsAfter(ctx, evCustomer, head, 10)
	if err != nil {
		t.Fatal(err)
	}
	evs := page.Events
	if len(evs) != 1 || evs[0].Type != verify.EventEnded || evs[0].CallID != "old1" {
		t.Fatalf("events after reopening = %+v, want old1's ENDED", evs)
	}
}
