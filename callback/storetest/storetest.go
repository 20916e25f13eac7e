// Package storetest is the conformance suite of callback.Store, together
// with the step of verify.Store that answers a request with a call
// (CreateCallbackCall): every implementation (bbolt, Redis standalone and
// Cluster) must pass Run, including the concurrency of the claim.
//
// Times are real (time.Now), so that a backend which drops final requests
// by itself (a TTL of their final time plus the retention) passes with a
// PruneRequests that does nothing.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Harness is one empty backend.
type Harness struct {
	Store callback.Store
	// Calls is the calls store of the same backend.
	Calls verify.Store
	Audit audit.Store
	// AddOfficial registers an official number that places calls.
	AddOfficial func(ctx context.Context, n phone.Number) error
}

// Run exercises every method on fresh backends made by newHarness.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"CreateGetList", testCreateGetList},
		{"AtMostMaxOpenWaiting", testMaxOpen},
		{"QueuePosition", testQueuePosition},
		{"ListOpenOldestFirst", testListOpen},
		{"ClaimOnce", testClaim},
		{"ClaimConcurrentOneWins", testClaimConcurrent},
		{"LapsedClaimGoesBack", testLapsedClaim},
		{"CancelOwnOnly", testCancel},
		{"CountWaiting", testCountWaiting},
		{"CallAnswersTheClaim", testCallAnswers},
		{"CallRefusedWritesNothing", testCallRefused},
		{"CallConcurrentAtMostOne", testCallConcurrent},
		{"ExpireRequests", testExpire},
		{"PruneRequests", testPrune},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			must(t, "AddOfficial", h.AddOfficial(context.Background(), hotline))
			tc.fn(t, h)
		})
	}
}

var (
	alice   = phone.Number("+8613800138000")
	bob     = phone.Number("+8613900139000")
	hotline = phone.Number("+8695188")
)

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got error %v, want %v", what, err, kind)
	}
}

func ev(action string) audit.Event {
	return audit.Event{Time: time.Now().UTC(), Actor: "tester", Role: "customer", Action: action, Target: "test"}
}

// events lists the events of action.
func events(t *testing.T, as audit.Store, action string) []audit.Event {
	t.Helper()
	evs, _, err := as.ListAuditEvents(context.Background(), audit.Filter{Action: action}, 1000, "")
	must(t, "ListAuditEvents", err)
	return evs
}

// now is the suite's clock: whole milliseconds, which every backend keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// create stores a request of customer made at at, waiting for ttl.
func create(t *testing.T, h Harness, customer phone.Number, reason int, at time.Time, ttl time.Duration) callback.Request {
	t.Helper()
	r := callback.Request{
		ID: h.Store.NewRequestID(customer), Customer: customer, CustomerID: "sub-" + customer.Digits(), Reason: reason,
		OrderRef: "ORD-1", Language: "zh-CN", State: callback.StateOpen, CreateTime: at, ExpireTime: at.Add(ttl),
	}
	must(t, "CreateRequest", h.Store.CreateRequest(context.Background(), r, 100, ev("callback.request")))
	return r
}

func get(t *testing.T, h Harness, id string) callback.Request {
	t.Helper()
	r, err := h.Store.GetRequest(context.Background(), id)
	must(t, "GetRequest "+id, err)
	return r
}

func ids(rs []callback.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func sameIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func testCreateGetList(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	win := callback.Window{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}
	r := callback.Request{
		ID: h.Store.NewRequestID(alice), Customer: alice, CustomerID: "u-1", Reason: 3, OrderRef: "ORD-9",
		Window: win, Language: "en", State: callback.StateOpen, CreateTime: t0, ExpireTime: t0.Add(24 * time.Hour),
	}
	must(t, "CreateRequest", h.Store.CreateRequest(ctx, r, 3, ev("callback.request")))
	wantKind(t, "CreateRequest with a taken id", h.Store.CreateRequest(ctx, r, 3, ev("callback.request")), fault.ErrAlreadyExists)
	got := get(t, h, r.ID)
	if got.Customer != alice || got.CustomerID != "u-1" || got.Reason != 3 || got.OrderRef != "ORD-9" || got.Language != "en" ||
		got.State != callback.StateOpen || !got.CreateTime.Equal(t0) || !got.ExpireTime.Equal(r.ExpireTime) ||
		!got.Window.Start.Equal(win.Start) || !got.Window.End.Equal(win.End) || got.ClaimedBy != "" || got.CallID != "" {
		t.Fatalf("GetRequest = %+v, want %+v", got, r)
	}
	if _, err := h.Store.GetRequest(ctx, h.Store.NewRequestID(alice)); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("GetRequest of an unknown id: %v, want not found", err)
	}
	r2 := create(t, h, alice, 1, t0.Add(time.Second), time.Hour)
	create(t, h, bob, 1, t0.Add(2*time.Second), time.Hour)
	mine, err := h.Store.ListByCustomer(ctx, alice, 10)
	must(t, "ListByCustomer", err)
	sameIDs(t, "alice's requests, newest first", ids(mine), r2.ID, r.ID)
	one, err := h.Store.ListByCustomer(ctx, alice, 1)
	must(t, "ListByCustomer", err)
	sameIDs(t, "alice's newest request", ids(one), r2.ID)
	if n := len(events(t, h.Audit, "callback.request")); n != 3 {
		t.Fatalf("%d callback.request events, want 3 (the refused create appends none)", n)
	}
}

func testMaxOpen(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	r1 := create(t, h, alice, 1, t0, time.Hour)
	// One that expired before t0+1s does not count.
	old := callback.Request{ID: h.Store.NewRequestID(alice), Customer: alice, Reason: 1, Language: "zh-CN", State: callback.StateOpen,
		CreateTime: t0.Add(-2 * time.Hour), ExpireTime: t0.Add(-time.Hour)}
	must(t, "CreateRequest (expired)", h.Store.CreateRequest(ctx, old, 3, ev("callback.request")))
	mk := func(at time.Time) (callback.Request, error) {
		r := callback.Request{ID: h.Store.NewRequestID(alice), Customer: alice, Reason: 2, Language: "zh-CN", State: callback.StateOpen,
			CreateTime: at, ExpireTime: at.Add(time.Hour)}
		return r, h.Store.CreateRequest(ctx, r, 3, ev("callback.request"))
	}
	if _, err := mk(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	r3, err := mk(t0.Add(2 * time.Second))
	must(t, "third waiting request", err)
	if _, err := mk(t0.Add(3 * time.Second)); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Fatalf("a fourth waiting request: %v, want resource exhausted", err)
	}
	// Another customer is not limited by alice's.
	create(t, h, bob, 1, t0.Add(3*time.Second), time.Hour)
	// A claimed one still counts; a cancelled one no longer does.
	if _, err := h.Store.Claim(ctx, r3.ID, "dialer-1", t0.Add(4*time.Second), t0.Add(time.Hour), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	if _, err := mk(t0.Add(5 * time.Second)); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Fatalf("a request while 3 are open or claimed: %v, want resource exhausted", err)
	}
	if _, err := h.Store.Cancel(ctx, r1.ID, alice, t0.Add(6*time.Second), ev("callback.cancel")); err != nil {
		t.Fatal(err)
	}
	if _, err := mk(t0.Add(7 * time.Second)); err != nil {
		t.Fatalf("a request after one was cancelled: %v", err)
	}
}

func testQueuePosition(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	a1 := create(t, h, alice, 1, t0, time.Hour)
	b1 := create(t, h, bob, 2, t0.Add(time.Second), time.Hour)
	a2 := create(t, h, alice, 3, t0.Add(2*time.Second), time.Hour)
	pos := func(id string, at time.Time) int {
		t.Helper()
		p, err := h.Store.QueuePosition(ctx, id, at)
		must(t, "QueuePosition", err)
		return p
	}
	at := t0.Add(3 * time.Second)
	if got := []int{pos(a1.ID, at), pos(b1.ID, at), pos(a2.ID, at)}; fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("positions %v, want [1 2 3]", got)
	}
	// Claimed: no place in the queue, but still ahead of the others until answered.
	if _, err := h.Store.Claim(ctx, a1.ID, "dialer-1", at, at.Add(time.Hour), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	if got := []int{pos(a1.ID, at), pos(b1.ID, at), pos(a2.ID, at)}; fmt.Sprint(got) != "[0 2 3]" {
		t.Fatalf("positions with the first claimed %v, want [0 2 3]", got)
	}
	if _, err := h.Store.Cancel(ctx, b1.ID, bob, at, ev("callback.cancel")); err != nil {
		t.Fatal(err)
	}
	if got := pos(a2.ID, at); got != 2 {
		t.Fatalf("position after the one ahead was cancelled: %d, want 2", got)
	}
	if _, err := h.Store.QueuePosition(ctx, h.Store.NewRequestID(alice), at); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("QueuePosition of an unknown id: %v, want not found", err)
	}
}

func testListOpen(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	r1 := create(t, h, alice, 1, t0, time.Hour)
	r2 := create(t, h, bob, 2, t0.Add(time.Second), time.Hour)
	r3 := create(t, h, alice, 2, t0.Add(2*time.Second), 3*time.Second) // expires at t0+5s
	r4 := create(t, h, bob, 1, t0.Add(3*time.Second), time.Hour)
	at := t0.Add(4 * time.Second)
	list := func(at time.Time, reason int, cursor string, limit int) ([]string, string) {
		t.Helper()
		rs, next, err := h.Store.ListOpen(ctx, at, reason, cursor, limit)
		must(t, "ListOpen", err)
		return ids(rs), next
	}
	all, _ := list(at, 0, "", 10)
	sameIDs(t, "open requests", all, r1.ID, r2.ID, r3.ID, r4.ID)
	refunds, _ := list(at, 2, "", 10)
	sameIDs(t, "reason 2", refunds, r2.ID, r3.ID)
	// Paging: every open request once, in order.
	var paged []string
	cursor := ""
	for i := 0; i < 10; i++ {
		page, next := list(at, 0, cursor, 3)
		paged = append(paged, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	sameIDs(t, "paged", paged, r1.ID, r2.ID, r3.ID, r4.ID)
	// Claimed: not open; expired: not open.
	if _, err := h.Store.Claim(ctx, r2.ID, "dialer-1", at, at.Add(time.Minute), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	later, _ := list(t0.Add(6*time.Second), 0, "", 10)
	sameIDs(t, "open after a claim and an expiry", later, r1.ID, r4.ID)
	// The claim lapses: open again, in its old place.
	lapsed, _ := list(at.Add(2*time.Minute), 0, "", 10)
	sameIDs(t, "open after the claim lapsed", lapsed, r1.ID, r2.ID, r4.ID)
	if _, _, err := h.Store.ListOpen(ctx, at, 0, "not-a-cursor!", 10); !errors.Is(err, fault.ErrInvalidArgument) {
		t.Fatalf("ListOpen with a forged cursor: %v, want invalid argument", err)
	}
}

func testClaim(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	r := create(t, h, alice, 1, t0, time.Hour)
	got, err := h.Store.Claim(ctx, r.ID, "dialer-1", t0.Add(time.Second), t0.Add(time.Minute), ev("callback.claim"), ev("callback.release"))
	must(t, "Claim", err)
	if got.State != callback.StateClaimed || got.ClaimedBy != "dialer-1" || got.Customer != alice ||
		!got.ClaimTime.Equal(t0.Add(time.Second)) || !got.ClaimUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Claim = %+v", got)
	}
	if _, err := h.Store.Claim(ctx, r.ID, "dialer-2", t0.Add(2*time.Second), t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("a second claim: %v, want conflict", err)
	}
	if _, err := h.Store.Claim(ctx, h.Store.NewRequestID(bob), "dialer-2", t0, t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("claim of an unknown id: %v, want not found", err)
	}
	// Expired: no claim.
	x := create(t, h, bob, 1, t0, time.Second)
	if _, err := h.Store.Claim(ctx, x.ID, "dialer-2", t0.Add(2*time.Second), t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("claim of an expired request: %v, want conflict", err)
	}
	if n := len(events(t, h.Audit, "callback.claim")); n != 1 {
		t.Fatalf("%d claim events, want 1", n)
	}
}

func testClaimConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	r := create(t, h, alice, 1, t0, time.Hour)
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		others  []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			by := fmt.Sprintf("dialer-%d", i)
			_, err := h.Store.Claim(ctx, r.ID, by, t0.Add(time.Second), t0.Add(time.Minute), ev("callback.claim"), ev("callback.release"))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winners = append(winners, by)
			} else {
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d claims won (%v), want exactly 1", len(winners), winners)
	}
	for _, err := range others {
		if !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("a losing claim: %v, want conflict", err)
		}
	}
	if got := get(t, h, r.ID); got.ClaimedBy != winners[0] {
		t.Fatalf("stored claimer %q, want the winner %q", got.ClaimedBy, winners[0])
	}
	if n := len(events(t, h.Audit, "callback.claim")); n != 1 {
		t.Fatalf("%d claim events, want 1", n)
	}
}

func testLapsedClaim(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	r := create(t, h, alice, 1, t0, time.Hour)
	if _, err := h.Store.Claim(ctx, r.ID, "dialer-1", t0, t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	got, err := h.Store.Claim(ctx, r.ID, "dialer-2", t0.Add(time.Minute), t0.Add(2*time.Minute), ev("callback.claim"), ev("callback.release"))
	must(t, "claim after the first lapsed", err)
	if got.ClaimedBy != "dialer-2" {
		t.Fatalf("claimer %q, want dialer-2", got.ClaimedBy)
	}
	rel := events(t, h.Audit, "callback.release")
	if len(rel) != 1 || rel[0].Before["claimed_by"] != "dialer-1" {
		t.Fatalf("release events %+v, want one naming dialer-1", rel)
	}
}

func testCancel(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	r := create(t, h, alice, 1, t0, time.Hour)
	if _, err := h.Store.Cancel(ctx, r.ID, bob, t0, ev("callback.cancel")); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("bob cancels alice's request: %v, want not found", err)
	}
	if _, err := h.Store.Cancel(ctx, h.Store.NewRequestID(alice), alice, t0, ev("callback.cancel")); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("cancel of an unknown id: %v, want not found", err)
	}
	got, err := h.Store.Cancel(ctx, r.ID, alice, t0.Add(time.Second), ev("callback.cancel"))
	must(t, "Cancel", err)
	if got.State != callback.StateCancelled || !got.FinalTime.Equal(t0.Add(time.Second)) {
		t.Fatalf("Cancel = %+v", got)
	}
	if _, err := h.Store.Cancel(ctx, r.ID, alice, t0.Add(2*time.Second), ev("callback.cancel")); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("a second cancel: %v, want not found", err)
	}
	if get(t, h, r.ID).State != callback.StateCancelled {
		t.Fatal("not stored cancelled")
	}
	if n := len(events(t, h.Audit, "callback.cancel")); n != 1 {
		t.Fatalf("%d cancel events, want 1", n)
	}
}

func testCountWaiting(t *testing.T, h Harness) {
	ctx := context.Background()
	count := func(what string, want int) {
		t.Helper()
		n, err := h.Store.CountWaiting(ctx)
		must(t, "CountWaiting", err)
		if n != want {
			t.Fatalf("%s: CountWaiting = %d, want %d", what, n, want)
		}
	}
	count("empty", 0)
	t0 := now()
	a := create(t, h, alice, 1, t0, time.Hour)
	b := create(t, h, bob, 2, t0, time.Hour)
	count("two open", 2)
	_, err := h.Store.Claim(ctx, b.ID, "dialer-1", t0, t0.Add(time.Minute), ev("callback.claim"), ev("callback.release"))
	must(t, "Claim", err)
	count("one open, one claimed", 2)
	_, err = h.Store.Cancel(ctx, a.ID, alice, t0.Add(time.Second), ev("callback.cancel"))
	must(t, "Cancel", err)
	count("one cancelled", 1)
	n, err := h.Store.ExpireRequests(ctx, t0.Add(2*time.Hour), 10, ev("callback.expire"))
	must(t, "ExpireRequests", err)
	if n != 1 {
		t.Fatalf("ExpireRequests = %d, want 1", n)
	}
	count("the claimed one expired", 0)
}

// stamp is the call a dialer stamps to callee, answering request id.
func stamp(h Harness, id, by string, callee phone.Number, at time.Time) verify.Call {
	return verify.Call{
		ID: h.Calls.NewCallID(callee), Caller: hotline, Callee: callee, Reason: verify.ReasonRefund, AgentID: "a-1",
		AgentName: "Wang", OrigID: "1b4e28ba-2fa1-41d2-883f-0016d3cca427", CreateBy: by, State: verify.StateActive,
		CreateTime: at, ExpireTime: at.Add(10 * time.Minute), SealedSecret: []byte{1, 2, 3}, CallbackRequestID: id,
	}
}

func testCallAnswers(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now().Truncate(time.Second)
	r := create(t, h, alice, 1, t0, time.Hour)
	if _, err := h.Store.Claim(ctx, r.ID, "dialer-1", t0, t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	c := stamp(h, r.ID, "dialer-1", alice, t0.Add(time.Second))
	must(t, "CreateCallbackCall", h.Calls.CreateCallbackCall(ctx, c, ev("call.stamp"), ev("callback.call")))
	got, err := h.Calls.GetCall(ctx, c.ID)
	must(t, "GetCall", err)
	if got.CallbackRequestID != r.ID {
		t.Fatalf("the call's CallbackRequestID %q, want %q", got.CallbackRequestID, r.ID)
	}
	calls, err := h.Calls.ListCallsTo(ctx, alice, t0, 10)
	must(t, "ListCallsTo", err)
	if len(calls) != 1 || calls[0].CallbackRequestID != r.ID {
		t.Fatalf("ListCallsTo = %+v, want the call with its request", calls)
	}
	rr := get(t, h, r.ID)
	if rr.State != callback.StateCalled || rr.CallID != c.ID || rr.ClaimedBy != "dialer-1" || !rr.FinalTime.Equal(c.CreateTime) {
		t.Fatalf("request after the call: %+v", rr)
	}
	if n := len(events(t, h.Audit, "callback.call")); n != 1 {
		t.Fatalf("%d callback.call events, want 1", n)
	}
	// Answered: no second call, and not open any more.
	c2 := stamp(h, r.ID, "dialer-1", alice, t0.Add(2*time.Second))
	wantKind(t, "a second call for the request", h.Calls.CreateCallbackCall(ctx, c2, ev("call.stamp"), ev("callback.call")), fault.ErrConflict)
	if _, err := h.Calls.GetCall(ctx, c2.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the refused call was stored: %v", err)
	}
	open, _, err := h.Store.ListOpen(ctx, t0.Add(3*time.Second), 0, "", 10)
	must(t, "ListOpen", err)
	if len(open) != 0 {
		t.Fatalf("open after the call: %v", ids(open))
	}
	// A plain CreateCall never answers a request.
	c3 := stamp(h, r.ID, "dialer-1", alice, t0.Add(3*time.Second))
	must(t, "CreateCall", h.Calls.CreateCall(ctx, c3, ev("call.stamp")))
	if got, _ := h.Calls.GetCall(ctx, c3.ID); got.CallbackRequestID != "" {
		t.Fatalf("CreateCall stored CallbackRequestID %q", got.CallbackRequestID)
	}
}

func testCallRefused(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now().Truncate(time.Second)
	r := create(t, h, alice, 1, t0, time.Hour)
	unclaimed := create(t, h, alice, 2, t0, time.Hour)
	if _, err := h.Store.Claim(ctx, r.ID, "dialer-1", t0, t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Second)
	for _, tc := range []struct {
		name string
		c    verify.Call
	}{
		{"another dialer", stamp(h, r.ID, "dialer-2", alice, at)},
		{"another number", stamp(h, r.ID, "dialer-1", bob, at)},
		{"an unclaimed request", stamp(h, unclaimed.ID, "dialer-1", alice, at)},
		{"an unknown request", stamp(h, h.Store.NewRequestID(alice), "dialer-1", alice, at)},
		{"a lapsed claim", stamp(h, r.ID, "dialer-1", alice, t0.Add(time.Minute))},
	} {
		wantKind(t, tc.name, h.Calls.CreateCallbackCall(ctx, tc.c, ev("call.stamp"), ev("callback.call")), fault.ErrConflict)
		if _, err := h.Calls.GetCall(ctx, tc.c.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("%s: the refused call was stored (%v)", tc.name, err)
		}
	}
	// Not an official number: CreateCall's refusal, nothing written either.
	c := stamp(h, r.ID, "dialer-1", alice, at)
	c.Caller = phone.Number("+8610086")
	wantKind(t, "an unofficial caller", h.Calls.CreateCallbackCall(ctx, c, ev("call.stamp"), ev("callback.call")), fault.ErrFailedPrecondition)
	if got := get(t, h, r.ID); got.State != callback.StateClaimed || got.CallID != "" {
		t.Fatalf("request after refused calls: %+v", got)
	}
	for _, action := range []string{"call.stamp", "callback.call"} {
		if n := len(events(t, h.Audit, action)); n != 0 {
			t.Fatalf("%d %s events after refused calls, want 0", n, action)
		}
	}
}

func testCallConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now().Truncate(time.Second)
	r := create(t, h, alice, 1, t0, time.Hour)
	if _, err := h.Store.Claim(ctx, r.ID, "dialer-1", t0, t0.Add(time.Minute), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.Calls.CreateCallbackCall(ctx, stamp(h, r.ID, "dialer-1", alice, t0.Add(time.Second)), ev("call.stamp"), ev("callback.call"))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, fault.ErrConflict):
			t.Fatalf("a losing call: %v, want conflict", err)
		}
	}
	calls, err := h.Calls.ListCallsTo(ctx, alice, t0, 100)
	must(t, "ListCallsTo", err)
	if ok != 1 || len(calls) != 1 {
		t.Fatalf("%d calls accepted, %d stored; want exactly 1", ok, len(calls))
	}
}

func testExpire(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	due := create(t, h, alice, 1, t0.Add(-2*time.Hour), time.Hour)
	claimed := create(t, h, bob, 1, t0.Add(-2*time.Hour), time.Hour)
	if _, err := h.Store.Claim(ctx, claimed.ID, "dialer-1", t0.Add(-2*time.Hour), t0.Add(-time.Hour-time.Minute), ev("callback.claim"), ev("callback.release")); err != nil {
		t.Fatal(err)
	}
	live := create(t, h, alice, 1, t0, time.Hour)
	n, err := h.Store.ExpireRequests(ctx, t0, 10, ev("callback.expire"))
	must(t, "ExpireRequests", err)
	if n != 2 {
		t.Fatalf("ExpireRequests = %d, want 2", n)
	}
	for _, id := range []string{due.ID, claimed.ID} {
		if r := get(t, h, id); r.State != callback.StateExpired || !r.FinalTime.Equal(r.ExpireTime) {
			t.Fatalf("expired request %+v", r)
		}
	}
	if r := get(t, h, live.ID); r.State != callback.StateOpen {
		t.Fatalf("live request %+v", r)
	}
	// One event per atomic step: a backend that spreads requests over
	// partitions appends one per partition it changed, each counting its own.
	evs := events(t, h.Audit, "callback.expire")
	counted := 0
	var named []string
	for _, e := range evs {
		n, err := strconv.Atoi(fmt.Sprint(e.After["expired_callbacks"]))
		must(t, "expired_callbacks", err)
		counted += n
		named = append(named, fmt.Sprint(e.After["request_ids"]))
	}
	if counted != 2 || len(evs) > 2 || !strings.Contains(strings.Join(named, " "), due.ID) || !strings.Contains(strings.Join(named, " "), claimed.ID) {
		t.Fatalf("expire events %+v, want expired_callbacks adding up to 2, naming both", evs)
	}
	if n, err := h.Store.ExpireRequests(ctx, t0, 10, ev("callback.expire")); err != nil || n != 0 {
		t.Fatalf("a second ExpireRequests = %d, %v; want 0", n, err)
	}
	if n := len(events(t, h.Audit, "callback.expire")); n != len(evs) {
		t.Fatalf("%d expire events after a step that expired none, want %d", n, len(evs))
	}
}

func testPrune(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := now()
	const retention = 7 * 24 * time.Hour
	before := t0.Add(-retention)
	old := create(t, h, alice, 1, before.Add(-2*time.Hour), time.Hour) // final (expired) before before
	recent := create(t, h, alice, 1, t0.Add(-2*time.Hour), time.Hour)  // final since
	live := create(t, h, bob, 1, t0, time.Hour)
	if _, err := h.Store.ExpireRequests(ctx, t0, 10, ev("callback.expire")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.PruneRequests(ctx, before, 10, ev("callback.prune")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.GetRequest(ctx, old.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("a request past its retention: %v, want not found", err)
	}
	mine, err := h.Store.ListByCustomer(ctx, alice, 10)
	must(t, "ListByCustomer", err)
	sameIDs(t, "alice's requests after pruning", ids(mine), recent.ID)
	get(t, h, live.ID)
}
