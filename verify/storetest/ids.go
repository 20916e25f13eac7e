package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// testNewCallID: the store's ids look like the domain's (26 lower-case
// base32 characters), are fresh every time, and a call stamped with one
// is found by every method that takes an id or its callee.
func testNewCallID(t *testing.T, s verify.Store) {
	ctx := context.Background()
	seen := map[string]bool{}
	customers := []phone.Number{alice, bob, aliceish, "+8613700137000", "+8618600186000", "+4915112345678"}
	for i, callee := range customers {
		for range 3 {
			id := s.NewCallID(callee)
			if len(id) != 26 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
				t.Fatalf("NewCallID = %q, want 26 lower-case base32 characters", id)
			}
			if seen[id] {
				t.Fatalf("NewCallID repeated %q", id)
			}
			seen[id] = true
		}
		id := s.NewCallID(callee)
		c := call(id, callee, base.Add(time.Duration(i+1)*time.Minute))
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
		got, err := s.GetCall(ctx, id)
		must(t, "GetCall", err)
		if !reflect.DeepEqual(norm(got), norm(c)) {
			t.Fatalf("GetCall = %+v, want %+v", got, c)
		}
		list, err := s.ListCallsTo(ctx, callee, base.Add(-time.Hour), 10)
		must(t, "ListCallsTo", err)
		if !reflect.DeepEqual(ids(list), []string{id}) {
			t.Fatalf("ListCallsTo = %v, want [%s]", ids(list), id)
		}
		now := base.Add(-5 * time.Minute)
		_, ok, err := s.RecordCodeAttempt(ctx, id, 100, 5, now, ev("call.lock"), ev("call.confirm"))
		must(t, "RecordCodeAttempt", err)
		if !ok {
			t.Fatalf("the right code did not match call %s", id)
		}
		ended, err := s.EndCall(ctx, id, "dialer-1", now, ev("call.end"))
		must(t, "EndCall", err)
		if ended.State != verify.StateEnded {
			t.Fatalf("EndCall: state %v, want ENDED", ended.State)
		}
	}
	// An id of the right form that was never stored is not found.
	_, err := s.GetCall(ctx, s.NewCallID(alice))
	wantKind(t, "GetCall of a fresh id", err, fault.ErrNotFound)
}

// testTakenIDFromAnotherLine: a stamp refused because its id is taken
// leaves nothing that finds the existing call from the refused stamp's
// line: that line lists no call and ending its calls ends none.
func testTakenIDFromAnotherLine(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")))
	dup := from(call("c1", alice, base.Add(time.Hour)), line2)
	wantKind(t, "CreateCall with a taken id", s.CreateCall(ctx, dup, ev("call.stamp")), fault.ErrAlreadyExists)
	now := base.Add(-time.Minute)
	if live, _, err := s.ListCallsFrom(ctx, line2, now, "", 10); err != nil || len(live) != 0 {
		t.Fatalf("the refused stamp's line lists %v (%v), want none", ids(live), err)
	}
	n, err := s.EndCallsFrom(ctx, line2, now, ev("call.end_by_caller"))
	must(t, "EndCallsFrom", err)
	if n != 0 {
		t.Fatalf("ending the refused stamp's line ended %d calls, want 0", n)
	}
	c, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if c.State != verify.StateActive || c.Caller != hotline || !c.ExpireTime.Equal(base) {
		t.Fatalf("the existing call after a refused stamp of its id: %+v", c)
	}
	if live, _, err := s.ListCallsFrom(ctx, hotline, now, "", 10); err != nil || !reflect.DeepEqual(ids(live), []string{"c1"}) {
		t.Fatalf("its own line lists %v (%v), want [c1]", ids(live), err)
	}
}
