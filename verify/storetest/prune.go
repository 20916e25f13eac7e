package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// testPruneCalls checks what anyone can see of retention: a call whose
// expiry is past the retention is gone, with nothing left that finds it,
// and every other call is as it was. Times are real (time.Now), so that a
// backend which expires calls by itself (a TTL of expiry plus retention)
// passes with a PruneCalls that does nothing.
func testPruneCalls(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	now := time.Now().UTC().Truncate(time.Second)
	const retention = 7 * 24 * time.Hour
	before := now.Add(-retention)
	day := 24 * time.Hour

	// An end or a lock in the past, just before the call expired. A
	// backend with native expiry may have dropped a call already past
	// its retention, which is what is asked of it.
	gone := func(err error) bool { return errors.Is(err, fault.ErrNotFound) }
	end := func(c verify.Call) {
		t.Helper()
		if _, err := s.EndCall(ctx, c.ID, "", c.ExpireTime.Add(-time.Minute), ev("call.end")); err != nil && !gone(err) {
			t.Fatalf("EndCall %s: %v", c.ID, err)
		}
	}
	lock := func(c verify.Call) {
		t.Helper()
		if _, _, err := s.RecordCodeAttempt(ctx, c.ID, 0, 1, c.ExpireTime.Add(-time.Minute), ev("call.lock"), ev("call.confirm")); err != nil && !gone(err) {
			t.Fatalf("RecordCodeAttempt %s: %v", c.ID, err)
		}
	}
	stamp := func(id string, expire time.Time) verify.Call {
		t.Helper()
		c := call(id, alice, expire)
		must(t, "CreateCall "+id, s.CreateCall(ctx, c, ev("call.stamp")))
		return c
	}

	// Past the retention: expired, ended and locked calls.
	oldExpired := stamp("old-expired", now.Add(-30*day))
	oldEnded := stamp("old-ended", before.Add(-time.Hour))
	end(oldEnded)
	oldLocked := stamp("old-locked", before.Add(-time.Minute))
	lock(oldLocked)
	// Within it: live, expired, ended and locked calls.
	live := stamp("live", now.Add(time.Hour))
	recent := stamp("recent-expired", now.Add(-day))
	recentEnded := stamp("recent-ended", before.Add(time.Hour))
	end(recentEnded)
	recentLocked := stamp("recent-locked", now.Add(-2*day))
	lock(recentLocked)
	liveEnded := stamp("live-ended", now.Add(30*time.Minute))
	if _, err := s.EndCall(ctx, liveEnded.ID, "", now, ev("call.end")); err != nil {
		t.Fatal(err)
	}
	keep := map[string]verify.State{
		live.ID: verify.StateActive, recent.ID: verify.StateActive, recentEnded.ID: verify.StateEnded,
		recentLocked.ID: verify.StateLocked, liveEnded.ID: verify.StateEnded,
	}
	snapshot := map[string]verify.Call{}
	for id := range keep {
		c, err := s.GetCall(ctx, id)
		must(t, "GetCall "+id, err)
		snapshot[id] = norm(c)
	}

	// Sweep in batches of 2 until a batch comes back short.
	pruned := 0
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("PruneCalls keeps returning full batches")
		}
		pe := ev("call.prune")
		pe.Actor, pe.Role, pe.Target = audit.System.Subject, audit.System.Role, ""
		n, err := s.PruneCalls(ctx, before, 2, pe)
		must(t, "PruneCalls", err)
		if n < 0 || n > 2 {
			t.Fatalf("PruneCalls(limit 2) = %d", n)
		}
		pruned += n
		if n < 2 {
			break
		}
	}
	if pruned > 3 {
		t.Errorf("PruneCalls deleted %d calls, want at most the 3 past their retention", pruned)
	}

	for _, c := range []verify.Call{oldExpired, oldEnded, oldLocked} {
		if _, err := s.GetCall(ctx, c.ID); !gone(err) {
			t.Errorf("GetCall %s (expired %s, retention ended %s): %v, want NotFound", c.ID, c.ExpireTime, before, err)
		}
	}
	for id, state := range keep {
		c, err := s.GetCall(ctx, id)
		if err != nil {
			t.Errorf("GetCall %s within its retention: %v", id, err)
			continue
		}
		if got := norm(c); got.State != state || !got.ExpireTime.Equal(snapshot[id].ExpireTime) || got.WrongAttempts != snapshot[id].WrongAttempts || !got.EndTime.Equal(snapshot[id].EndTime) {
			t.Errorf("call %s after pruning = %+v, want it untouched (%s)", id, got, state)
		}
	}
	// Nothing that finds calls still finds a pruned one (a stale index
	// entry would fail these listings or show the call).
	listed, err := s.ListCallsTo(ctx, alice, now.Add(-365*day), 100)
	must(t, "ListCallsTo", err)
	var ids []string
	for _, c := range listed {
		ids = append(ids, c.ID)
	}
	if got, want := len(listed), 2; got != want || listed[0].ID != live.ID || listed[1].ID != recent.ID {
		t.Errorf("ListCallsTo after pruning = %v, want [live recent-expired]", ids)
	}
	from, _, err := s.ListCallsFrom(ctx, hotline, now.Add(-365*day), "", 100)
	must(t, "ListCallsFrom", err)
	if len(from) != 2 {
		t.Errorf("ListCallsFrom after pruning lists %d calls, want the 2 stored ACTIVE", len(from))
	}
	ended, err := s.EndCallsFrom(ctx, hotline, now, ev("call.end_by_caller"))
	must(t, "EndCallsFrom", err)
	if ended != 1 {
		t.Errorf("EndCallsFrom after pruning ended %d calls, want the 1 live", ended)
	}

	// The record: one system event per step that deleted anything, saying
	// how many, and none for a step that deleted nothing.
	evs := events(t, h.Audit, "call.prune")
	total := 0
	for _, e := range evs {
		n, ok := e.After["pruned_calls"].(int)
		if f, isFloat := e.After["pruned_calls"].(float64); isFloat {
			n, ok = int(f), true
		}
		if !ok || n <= 0 || e.Actor != audit.System.Subject || e.Role != audit.System.Role {
			t.Errorf("prune event %+v, want actor %s and a positive pruned_calls", e, audit.System.Subject)
		}
		total += n
	}
	if total != pruned {
		t.Errorf("prune events count %d calls, PruneCalls said %d", total, pruned)
	}
	n, err := s.PruneCalls(ctx, before, 10, ev("call.prune"))
	must(t, "PruneCalls again", err)
	if n != 0 {
		t.Errorf("PruneCalls again deleted %d", n)
	}
	wantEvents(t, h.Audit, "call.prune", len(evs), "after a prune that deleted nothing")
}
