package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Official lines of the tests besides hotline.
var (
	line2    = phone.Number("+8657188881234")
	line2ish = phone.Number("+86571888812345") // line2 is a prefix of it
	inbound  = phone.Number("+8640080088881")
)

// ev is the audit event a test hands to a write.
func ev(action string) audit.Event {
	return audit.Event{Time: base, Actor: "tester", Role: "dialer", Action: action, Target: "test"}
}

// events lists the events of action, newest first.
func events(t *testing.T, as audit.Store, action string) []audit.Event {
	t.Helper()
	evs, _, err := as.ListAuditEvents(context.Background(), audit.Filter{Action: action}, 1000, "")
	must(t, "ListAuditEvents", err)
	return evs
}

func wantEvents(t *testing.T, as audit.Store, action string, n int, when string) {
	t.Helper()
	if got := len(events(t, as, action)); got != n {
		t.Fatalf("%s: %d %q events, want %d", when, got, action, n)
	}
}

func from(c verify.Call, caller phone.Number) verify.Call {
	c.Caller = caller
	return c
}

// testCreateCallChecksCaller: the check that the caller is an official
// number that places calls is the store's, in the step that creates the
// call, and a refused call leaves neither a call nor an event.
func testCreateCallChecksCaller(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, inbound, false))

	for _, tt := range []struct {
		name   string
		caller phone.Number
	}{
		{"not an official number", hotline},
		{"an inbound-only official number", inbound},
		{"a number that has an official number as prefix", line2ish},
	} {
		c := from(call("r-"+tt.caller.Digits(), alice, base), tt.caller)
		wantKind(t, "CreateCall from "+tt.name, s.CreateCall(ctx, c, ev("call.stamp")), fault.ErrFailedPrecondition)
		_, err := s.GetCall(ctx, c.ID)
		wantKind(t, "GetCall of a refused call", err, fault.ErrNotFound)
	}
	wantEvents(t, h.Audit, "call.stamp", 0, "after refused stamps")

	must(t, "CreateCall from an official outbound number", s.CreateCall(ctx, from(call("ok1", alice, base), line2), ev("call.stamp")))
	wantEvents(t, h.Audit, "call.stamp", 1, "after one stamp")

	ended, err := h.Officials.RemoveOfficial(ctx, line2, base.Add(-time.Minute))
	must(t, "RemoveOfficial", err)
	if ended != 1 {
		t.Fatalf("RemoveOfficial ended %d calls, want 1", ended)
	}
	wantKind(t, "CreateCall from a removed number", s.CreateCall(ctx, from(call("ok2", alice, base), line2), ev("call.stamp")), fault.ErrFailedPrecondition)
	wantEvents(t, h.Audit, "call.stamp", 1, "after a refused stamp")
}

func testListCallsFrom(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2ish, true))
	for _, c := range []verify.Call{
		from(call("h3", alice, base.Add(3*time.Minute)), hotline),
		from(call("h1", bob, base.Add(1*time.Minute)), hotline),
		from(call("h2", alice, base.Add(2*time.Minute)), hotline),
		from(call("h4", bob, base.Add(4*time.Minute)), hotline),
		from(call("l1", alice, base.Add(5*time.Minute)), line2),
		from(call("x1", alice, base.Add(5*time.Minute)), line2ish),
	} {
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	}
	now := base.Add(-time.Minute)
	_, err := s.EndCall(ctx, "h4", "", now, ev("call.end"))
	must(t, "EndCall", err)

	list := func(caller phone.Number, at time.Time, size int) []string {
		t.Helper()
		var got []string
		cursor := ""
		for range 10 {
			page, next, err := s.ListCallsFrom(ctx, caller, at, cursor, size)
			must(t, "ListCallsFrom", err)
			if len(page) > size {
				t.Fatalf("a page of %d calls, want at most %d", len(page), size)
			}
			got = append(got, ids(page)...)
			if next == "" {
				return got
			}
			cursor = next
		}
		t.Fatal("paging does not end")
		return nil
	}
	tests := []struct {
		name   string
		caller phone.Number
		at     time.Time
		size   int
		want   []string
	}{
		{"live calls, earliest expiry first, the ended one left out", hotline, now, 100, []string{"h1", "h2", "h3"}},
		{"paged one at a time", hotline, now, 1, []string{"h1", "h2", "h3"}},
		{"paged two at a time", hotline, now, 2, []string{"h1", "h2", "h3"}},
		{"expired ones left out", hotline, base.Add(90 * time.Second), 100, []string{"h2", "h3"}},
		{"a line is not a prefix of another", line2, now, 100, []string{"l1"}},
		{"the longer line", line2ish, now, 100, []string{"x1"}},
		{"no calls", inbound, now, 100, nil},
	}
	for _, tt := range tests {
		if got := list(tt.caller, tt.at, tt.size); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	page, _, err := s.ListCallsFrom(ctx, hotline, now, "", 1)
	must(t, "ListCallsFrom", err)
	if want := from(call("h1", bob, base.Add(1*time.Minute)), hotline); len(page) != 1 || !reflect.DeepEqual(norm(page[0]), norm(want)) {
		t.Errorf("ListCallsFrom returns the whole call: got %+v", page)
	}
	_, _, err = s.ListCallsFrom(ctx, hotline, now, "not a cursor", 1)
	wantKind(t, "ListCallsFrom with a bad cursor", err, fault.ErrInvalidArgument)
}

func testEndCallsFrom(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	for _, c := range []verify.Call{
		from(call("h1", alice, base.Add(1*time.Minute)), hotline),
		from(call("h2", bob, base.Add(2*time.Minute)), hotline),
		from(call("h3", alice, base.Add(-time.Minute)), hotline), // expired at base
		from(call("l1", alice, base.Add(5*time.Minute)), line2),
	} {
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	}
	e := ev("call.end_by_caller")
	e.After = map[string]any{"caller": hotline.String()}
	n, err := s.EndCallsFrom(ctx, hotline, base, e)
	must(t, "EndCallsFrom", err)
	if n != 2 {
		t.Fatalf("EndCallsFrom ended %d calls, want 2", n)
	}
	for id, want := range map[string]verify.State{"h1": verify.StateEnded, "h2": verify.StateEnded, "h3": verify.StateActive, "l1": verify.StateActive} {
		c, err := s.GetCall(ctx, id)
		must(t, "GetCall", err)
		if c.State != want {
			t.Errorf("%s: state %v, want %v", id, c.State, want)
		}
		if want == verify.StateEnded && !c.EndTime.Equal(base) {
			t.Errorf("%s: end time %v, want %v", id, c.EndTime, base)
		}
	}
	got := events(t, h.Audit, "call.end_by_caller")
	if len(got) != 1 || got[0].After["ended_calls"] != float64(2) || got[0].After["caller"] != hotline.String() {
		t.Fatalf("events = %+v, want one with ended_calls 2 and the caller kept", got)
	}
	if _, ok := e.After["ended_calls"]; ok {
		t.Fatalf("the store changed the caller's event map")
	}
	if live, _, err := s.ListCallsFrom(ctx, hotline, base, "", 10); err != nil || len(live) != 0 {
		t.Fatalf("after EndCallsFrom, live calls %v (%v), want none", ids(live), err)
	}
	n, err = s.EndCallsFrom(ctx, hotline, base, ev("call.end_by_caller"))
	must(t, "EndCallsFrom again", err)
	if n != 0 {
		t.Fatalf("EndCallsFrom again ended %d calls, want 0", n)
	}
}

func testRemoveOfficial(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	at := base.Add(-time.Minute)
	for _, c := range []verify.Call{
		from(call("h1", alice, base), hotline),
		from(call("h2", bob, base), hotline),
		from(call("h3", alice, base), hotline),
		from(call("l1", alice, base), line2),
	} {
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	}
	_, err := s.EndCall(ctx, "h3", "", at.Add(-time.Second), ev("call.end"))
	must(t, "EndCall", err)
	n, err := h.Officials.RemoveOfficial(ctx, hotline, at)
	must(t, "RemoveOfficial", err)
	if n != 2 {
		t.Fatalf("RemoveOfficial ended %d calls, want 2", n)
	}
	for id, want := range map[string]verify.State{"h1": verify.StateEnded, "h2": verify.StateEnded, "h3": verify.StateEnded, "l1": verify.StateActive} {
		c, err := s.GetCall(ctx, id)
		must(t, "GetCall", err)
		if c.State != want {
			t.Errorf("%s: state %v, want %v", id, c.State, want)
		}
	}
	if c, _ := s.GetCall(ctx, "h1"); !c.EndTime.Equal(at) {
		t.Errorf("h1 ended at %v, want %v", c.EndTime, at)
	}
	if live, _, err := s.ListCallsFrom(ctx, hotline, at, "", 10); err != nil || len(live) != 0 {
		t.Errorf("live calls of the removed number: %v (%v), want none", ids(live), err)
	}
	if c, err := s.ListCallsTo(ctx, alice, at, 10); err != nil || !reflect.DeepEqual(ids(c), []string{"l1"}) {
		t.Errorf("alice's live calls: %v (%v), want [l1]", ids(c), err)
	}
}

func testEndCallOwner(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp"))) // by dialer-1
	at := base.Add(-time.Minute)
	_, err := s.EndCall(ctx, "c1", "dialer-2", at, ev("call.end"))
	wantKind(t, "EndCall by another dialer", err, fault.ErrNotFound)
	c, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if c.State != verify.StateActive {
		t.Fatalf("another dialer's EndCall changed the call: %v", c.State)
	}
	wantEvents(t, h.Audit, "call.end", 0, "after a refused end")
	c, err = s.EndCall(ctx, "c1", "dialer-1", at, ev("call.end"))
	must(t, "EndCall by its dialer", err)
	if c.State != verify.StateEnded {
		t.Fatalf("EndCall by its dialer: %v, want ENDED", c.State)
	}
	wantEvents(t, h.Audit, "call.end", 1, "after an end")
}

// testCodesOneTime: a code matches once; its own step or an earlier one
// again counts as wrong; a later step's code matches.
func testCodesOneTime(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const limit = 5
	now := base.Add(-5 * time.Minute)
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")))
	for i, tt := range []struct {
		step      int64
		wantMatch bool
		wantWrong int
	}{
		{100, true, 0},
		{100, false, 1}, // the same code again
		{99, false, 2},  // the previous step's code, after a later one matched
		{101, true, 2},
		{101, false, 3},
		{0, false, 4},
	} {
		c, ok, err := s.RecordCodeAttempt(ctx, "c1", tt.step, limit, now.Add(time.Duration(i)*time.Second), ev("call.lock"), ev("call.confirm"))
		must(t, fmt.Sprintf("attempt %d", i), err)
		if ok != tt.wantMatch || c.WrongAttempts != tt.wantWrong {
			t.Fatalf("attempt %d (step %d): match %v with %d wrong, want %v with %d", i, tt.step, ok, c.WrongAttempts, tt.wantMatch, tt.wantWrong)
		}
	}
	stored, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if stored.LastCodeStep != 101 || !stored.ConfirmTime.Equal(now.Add(3*time.Second)) {
		t.Fatalf("stored last step %d confirmed %v, want 101 at %v", stored.LastCodeStep, stored.ConfirmTime, now.Add(3*time.Second))
	}
}

// testCodesOneTimeConcurrent: many confirms of one right code at once,
// exactly one matches; the rest count as wrong.
func testCodesOneTimeConcurrent(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const (
		limit   = 100
		workers = 16
	)
	now := base.Add(-5 * time.Minute)
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")))
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		matches, wrong int
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.RecordCodeAttempt(ctx, "c1", 100, limit, now, ev("call.lock"), ev("call.confirm"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("RecordCodeAttempt: %v", err)
			case ok:
				matches++
			default:
				wrong++
			}
		}()
	}
	wg.Wait()
	if matches != 1 || wrong != workers-1 {
		t.Fatalf("%d matches and %d wrong, want 1 and %d", matches, wrong, workers-1)
	}
	c, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if c.WrongAttempts != workers-1 {
		t.Fatalf("stored %d wrong attempts, want %d", c.WrongAttempts, workers-1)
	}
}

// testAuditEvents: every write that changes state appends its event in
// the same step; a write that changes nothing or is refused appends none.
func testAuditEvents(t *testing.T, h Harness) {
	ctx := context.Background()
	s, as := h.Store, h.Audit
	stamp := ev("call.stamp")
	stamp.Target = "c1"
	stamp.After = map[string]any{"callee": alice.Masked()}
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), stamp))
	got := events(t, as, "call.stamp")
	if len(got) != 1 || got[0].Target != "c1" || got[0].After["callee"] != alice.Masked() || got[0].ID == "" || got[0].Actor != "tester" {
		t.Fatalf("stamp events = %+v, want the one handed over, with an id", got)
	}
	wantKind(t, "CreateCall with a taken id", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")), fault.ErrAlreadyExists)
	wantEvents(t, as, "call.stamp", 1, "after a refused stamp")

	now := base.Add(-5 * time.Minute)
	_, err := s.EndCall(ctx, "nope", "", now, ev("call.end"))
	wantKind(t, "EndCall unknown", err, fault.ErrNotFound)
	must(t, "CreateCall", s.CreateCall(ctx, call("c2", alice, base), ev("call.stamp")))
	_, err = s.EndCall(ctx, "c2", "", now, ev("call.end"))
	must(t, "EndCall", err)
	_, err = s.EndCall(ctx, "c2", "", now, ev("call.end"))
	must(t, "EndCall again", err)
	wantEvents(t, as, "call.end", 1, "after one end and one that changed nothing")

	// A code that matches is used up, and that is a change: it appends
	// call.confirm; the same code again (wrong now) appends nothing.
	must(t, "CreateCall", s.CreateCall(ctx, call("c3", alice, base), ev("call.stamp")))
	_, ok, err := s.RecordCodeAttempt(ctx, "c3", 100, 5, now, ev("call.lock"), ev("call.confirm"))
	must(t, "right code", err)
	_, again, err := s.RecordCodeAttempt(ctx, "c3", 100, 5, now, ev("call.lock"), ev("call.confirm"))
	must(t, "used code", err)
	if !ok || again {
		t.Fatalf("right code matched %v, used code matched %v; want true, false", ok, again)
	}
	wantEvents(t, as, "call.confirm", 1, "after a match and a second use of its code")

	// Wrong codes: only the attempt that locks appends call.lock.
	const limit = 3
	for i := range limit + 2 {
		_, _, err := s.RecordCodeAttempt(ctx, "c1", 0, limit, now, ev("call.lock"), ev("call.confirm"))
		if i < limit {
			must(t, "wrong attempt", err)
		} else {
			wantKind(t, "attempt on a locked call", err, fault.ErrConflict)
		}
		want := 0
		if i >= limit-1 {
			want = 1
		}
		wantEvents(t, as, "call.lock", want, fmt.Sprintf("after wrong attempt %d", i+1))
	}

	must(t, "CreateDevice", s.CreateDevice(ctx, device("d1", alice, base), 1, ev("device.enroll")))
	wantKind(t, "CreateDevice past the limit", s.CreateDevice(ctx, device("d2", alice, base), 1, ev("device.enroll")), fault.ErrResourceExhausted)
	wantEvents(t, as, "device.enroll", 1, "after one enrolment and one refused")
	wantKind(t, "DeleteDevice unknown", s.DeleteDevice(ctx, alice, "d2", ev("device.delete")), fault.ErrNotFound)
	must(t, "DeleteDevice", s.DeleteDevice(ctx, alice, "d1", ev("device.delete")))
	wantEvents(t, as, "device.delete", 1, "after one delete and one refused")

	must(t, "PutPreferences", s.PutPreferences(ctx, alice, verify.Preferences{UpdateTime: base}, ev("preferences.update")))
	wantEvents(t, as, "preferences.update", 1, "after one preferences update")

	must(t, "RotateSigningKey", s.RotateSigningKey(ctx, "", key("k1", base), time.Time{}, time.Time{}, ev("signing_key.rotate")))
	wantKind(t, "RotateSigningKey stale", s.RotateSigningKey(ctx, "", key("k2", base), time.Time{}, time.Time{}, ev("signing_key.rotate")), fault.ErrConflict)
	wantEvents(t, as, "signing_key.rotate", 1, "after one rotation and one refused")

	_, err = s.EndCallsFrom(ctx, bobLine, base, ev("call.end_by_caller"))
	must(t, "EndCallsFrom with no calls", err)
	wantEvents(t, as, "call.end_by_caller", 1, "after ending the calls of a line")

	// A canceled write appends nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.CreateCall(cctx, call("c9", alice, base), ev("call.stamp")); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateCall with a canceled context: %v", err)
	}
	wantEvents(t, as, "call.stamp", 3, "after a canceled stamp")
}

// bobLine is a line with no calls.
var bobLine = phone.Number("+8657100000000")

// testCallsCarryTheirLinesGen: CreateCall stores the generation of the
// caller's official record it checked, and every read returns it; the same
// registration gives the same one, a registration made again a new one, so
// the domain can tell a call of the old registration from one of the new.
// A call that comes with a Gen (the registration its stamp was prepared
// under) is stored only under that registration: another refuses it, and
// nothing is written.
func testCallsCarryTheirLinesGen(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	stamp := func(expire time.Time, gen string) verify.Call {
		t.Helper()
		c := from(call(s.NewCallID(alice), alice, expire), line2)
		c.Gen = gen
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
		got, err := s.GetCall(ctx, c.ID)
		must(t, "GetCall", err)
		if got.Gen == "" || gen != "" && got.Gen != gen {
			t.Fatalf("GetCall: Gen %q, want the generation of the caller's record", got.Gen)
		}
		return got
	}
	first := stamp(base.Add(time.Minute), "")
	second := stamp(base.Add(2*time.Minute), first.Gen)
	stale := from(call(s.NewCallID(alice), alice, base.Add(time.Minute)), line2)
	stale.Gen = "another registration"
	wantKind(t, "CreateCall under another registration", s.CreateCall(ctx, stale, ev("call.stamp")), fault.ErrFailedPrecondition)
	_, err := s.GetCall(ctx, stale.ID)
	wantKind(t, "GetCall of the refused call", err, fault.ErrNotFound)
	if first.Gen != second.Gen {
		t.Fatalf("two calls under one registration: Gen %q and %q, want the same", first.Gen, second.Gen)
	}
	now := base.Add(-time.Minute)
	to, err := s.ListCallsTo(ctx, alice, now, 10)
	must(t, "ListCallsTo", err)
	byLine, _, err := s.ListCallsFrom(ctx, line2, now, "", 10)
	must(t, "ListCallsFrom", err)
	for _, list := range [][]verify.Call{to, byLine} {
		if len(list) != 2 || list[0].Gen != first.Gen || list[1].Gen != first.Gen {
			t.Fatalf("listed calls %+v, want both with Gen %q", list, first.Gen)
		}
	}

	_, err = h.Officials.RemoveOfficial(ctx, line2, now)
	must(t, "RemoveOfficial", err)
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	again := from(call(s.NewCallID(alice), alice, base.Add(3*time.Minute)), line2)
	again.Gen = first.Gen
	wantKind(t, "CreateCall under the registration before", s.CreateCall(ctx, again, ev("call.stamp")), fault.ErrFailedPrecondition)
	third := stamp(base.Add(3*time.Minute), "")
	if third.Gen == first.Gen {
		t.Fatalf("a call after the line was registered again has the old Gen %q", first.Gen)
	}
	old, err := s.GetCall(ctx, first.ID)
	must(t, "GetCall", err)
	if old.Gen != first.Gen {
		t.Fatalf("the old call's Gen changed to %q, want %q", old.Gen, first.Gen)
	}
}

// testLineReader: a store that reads the customer's calls and the caller's
// record together (verify.LineReader) answers what ListCallsTo and the
// official record say apart: registered and placing calls, inbound-only,
// not registered, and registered again under a new generation.
func testLineReader(t *testing.T, h Harness) {
	lr, ok := h.Store.(verify.LineReader)
	if !ok {
		t.Skipf("%T reads calls and lines apart (it does not implement verify.LineReader)", h.Store)
	}
	ctx := context.Background()
	s := h.Store
	now := base.Add(-time.Minute)
	c := call(s.NewCallID(alice), alice, base.Add(time.Minute))
	must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	stamped, err := s.GetCall(ctx, c.ID)
	must(t, "GetCall", err)
	check := func(caller phone.Number, want verify.CallerLine) {
		t.Helper()
		calls, line, err := lr.ListCallsToWithLine(ctx, alice, caller, now, 10)
		must(t, "ListCallsToWithLine", err)
		apart, err := s.ListCallsTo(ctx, alice, now, 10)
		must(t, "ListCallsTo", err)
		if len(calls) != 1 || len(apart) != 1 || !reflect.DeepEqual(norm(calls[0]), norm(apart[0])) {
			t.Fatalf("ListCallsToWithLine listed %+v, ListCallsTo %+v; want the one call", calls, apart)
		}
		if line != want {
			t.Fatalf("ListCallsToWithLine(caller %s): line %+v, want %+v", caller, line, want)
		}
	}
	check(hotline, verify.CallerLine{Registered: true, PlacesCalls: true, Gen: stamped.Gen})
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, false))
	_, line, err := lr.ListCallsToWithLine(ctx, alice, line2, now, 10)
	must(t, "ListCallsToWithLine", err)
	if !line.Registered || line.PlacesCalls || !line.InboundOnly || line.Gen == "" {
		t.Fatalf("inbound-only line: %+v, want registered, inbound only, not placing calls, with a generation", line)
	}
	check("+8657100000000", verify.CallerLine{})
	_, err = h.Officials.RemoveOfficial(ctx, line2, now)
	must(t, "RemoveOfficial", err)
	check(line2, verify.CallerLine{})
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	_, again, err := lr.ListCallsToWithLine(ctx, alice, line2, now, 10)
	must(t, "ListCallsToWithLine", err)
	if !again.Registered || !again.PlacesCalls || again.InboundOnly || again.Gen == line.Gen {
		t.Fatalf("line registered again: %+v, want registered, placing calls, with a new generation (was %q)", again, line.Gen)
	}
}

// testCallLineReader: a store that reads a call with a caller's record
// (verify.CallLineReader) answers what GetCall and the official record say
// apart, as the line is registered, removed, registered inbound-only and
// registered again: GetCallWithLine reads the call, and with the call's
// caller as the hint its record too; a record it returns for any hint (the
// call's caller, another number, none) is the record of the number it
// names, as CallerLine reads it. A call it does not have is not found.
func testCallLineReader(t *testing.T, h Harness) {
	clr, ok := h.Store.(verify.CallLineReader)
	if !ok {
		t.Skipf("%T reads calls and lines apart (it does not implement verify.CallLineReader)", h.Store)
	}
	ctx := context.Background()
	s := h.Store
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	c := from(call(s.NewCallID(alice), alice, base.Add(time.Minute)), line2)
	must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	check := func(when string, want func(verify.CallerLine) bool) verify.CallerLine {
		t.Helper()
		apart, err := s.GetCall(ctx, c.ID)
		must(t, "GetCall", err)
		own, err := clr.CallerLine(ctx, line2)
		must(t, "CallerLine", err)
		if own.Number != line2 || !want(own) {
			t.Fatalf("%s: CallerLine(%s) = %+v", when, line2, own)
		}
		for _, hint := range []phone.Number{line2, hotline, ""} {
			got, line, err := clr.GetCallWithLine(ctx, c.ID, hint)
			must(t, "GetCallWithLine", err)
			if !reflect.DeepEqual(norm(got), norm(apart)) {
				t.Fatalf("%s: GetCallWithLine(hint %q) read %+v, GetCall %+v", when, hint, got, apart)
			}
			switch {
			case hint == line2 && line.Number != line2:
				t.Fatalf("%s: GetCallWithLine with the call's caller as hint read the record of %q", when, line.Number)
			case line.Number != "" && line.Number != hint && line.Number != line2:
				t.Fatalf("%s: GetCallWithLine(hint %q) read the record of %q", when, hint, line.Number)
			case line.Number == "" && line != (verify.CallerLine{}):
				t.Fatalf("%s: GetCallWithLine(hint %q): a record %+v of no number", when, hint, line)
			}
			if line.Number != "" {
				apart, err := clr.CallerLine(ctx, line.Number)
				must(t, "CallerLine", err)
				if line != apart {
					t.Fatalf("%s: GetCallWithLine(hint %q) read %+v, CallerLine %+v", when, hint, line, apart)
				}
			}
		}
		return own
	}
	stamped, err := s.GetCall(ctx, c.ID)
	must(t, "GetCall", err)
	live := check("registered", func(l verify.CallerLine) bool {
		return l == verify.CallerLine{Number: line2, Registered: true, PlacesCalls: true, Gen: stamped.Gen}
	})
	_, err = h.Officials.RemoveOfficial(ctx, line2, base.Add(-time.Hour))
	must(t, "RemoveOfficial", err)
	check("removed", func(l verify.CallerLine) bool { return l == verify.CallerLine{Number: line2} })
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, false))
	check("inbound only", func(l verify.CallerLine) bool {
		return l.Registered && !l.PlacesCalls && l.InboundOnly && l.Gen != "" && l.Gen != live.Gen
	})
	_, err = h.Officials.RemoveOfficial(ctx, line2, base.Add(-time.Hour))
	must(t, "RemoveOfficial", err)
	must(t, "AddOfficial", h.Officials.AddOfficial(ctx, line2, true))
	check("registered again", func(l verify.CallerLine) bool {
		return l.Registered && l.PlacesCalls && !l.InboundOnly && l.Gen != "" && l.Gen != live.Gen
	})

	for _, hint := range []phone.Number{line2, ""} {
		_, _, err := clr.GetCallWithLine(ctx, s.NewCallID(alice), hint)
		wantKind(t, "GetCallWithLine of a call never stored", err, fault.ErrNotFound)
	}
}
