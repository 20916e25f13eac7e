package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// RunEvents exercises verify.EventLog on fresh backends made by newHarness,
// whose Store must implement it: the outbox is written in the step of each
// change, per customer, and wakes the customer's subscribers.
func RunEvents(t *testing.T, newHarness func(t *testing.T) Harness) {
	withLog := func(t *testing.T) (Harness, verify.EventLog) {
		h := newHarness(t)
		must(t, "AddOfficial", h.Officials.AddOfficial(context.Background(), hotline, true))
		l, ok := h.Store.(verify.EventLog)
		if !ok {
			t.Fatalf("%T does not implement verify.EventLog", h.Store)
		}
		return h, l
	}
	t.Run("ChangesAppendTheirEvents", func(t *testing.T) { t.Parallel(); h, l := withLog(t); testEventsOutbox(t, h, l) })
	t.Run("ResumeGivesExactlyTheLaterEvents", func(t *testing.T) { t.Parallel(); h, l := withLog(t); testEventsResume(t, h, l) })
	t.Run("SubscribersAreWokenForTheirOwnFeed", func(t *testing.T) { t.Parallel(); h, l := withLog(t); testEventsWake(t, h, l) })
	t.Run("UnknownPositionIsGone", func(t *testing.T) { t.Parallel(); _, l := withLog(t); testEventsUnknownCursor(t, l) })
}

// eventKinds is events as "TYPE callid", for comparing.
func eventKinds(evs []verify.CallEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type.String()+" "+e.CallID)
	}
	return out
}

func wantCallEvents(t *testing.T, what string, got []verify.CallEvent, want ...string) {
	t.Helper()
	if g := eventKinds(got); fmt.Sprint(g) != fmt.Sprint(append([]string{}, want...)) {
		t.Fatalf("%s: events %q, want %q", what, g, want)
	}
}

func after(t *testing.T, l verify.EventLog, n phone.Number, since string) []verify.CallEvent {
	t.Helper()
	page, err := l.EventsAfter(context.Background(), n, since, 100)
	must(t, "EventsAfter", err)
	return page.Events
}

func testEventsOutbox(t *testing.T, h Harness, l verify.EventLog) {
	ctx := context.Background()
	s := h.Store
	headA, err := l.EventsHead(ctx, alice)
	must(t, "EventsHead", err)
	headB, err := l.EventsHead(ctx, bob)
	must(t, "EventsHead", err)
	now := base
	for _, c := range []verify.Call{call("e1", alice, now.Add(time.Hour)), call("e2", alice, now.Add(time.Hour)),
		call("e3", alice, now.Add(time.Hour)), call("e4", bob, now.Add(time.Hour))} {
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	}
	// A refused stamp writes nothing.
	dup := call("e1", alice, now.Add(time.Hour))
	if err := s.CreateCall(ctx, dup, ev("call.stamp")); err == nil {
		t.Fatal("CreateCall with a taken id succeeded")
	}
	_, err = s.EndCall(ctx, "e1", "", now, ev("call.end"))
	must(t, "EndCall", err)
	_, err = s.EndCall(ctx, "e1", "", now, ev("call.end")) // ended already: no change, no event
	must(t, "EndCall again", err)
	_, ok, err := s.RecordCodeAttempt(ctx, "e2", 7, 2, now, ev("call.lock"), ev("call.confirm"))
	must(t, "RecordCodeAttempt", err)
	if !ok {
		t.Fatal("a matching attempt did not match")
	}
	for range 2 {
		_, _, err = s.RecordCodeAttempt(ctx, "e2", 0, 2, now, ev("call.lock"), ev("call.confirm"))
		must(t, "RecordCodeAttempt wrong", err)
	}
	ended, err := h.Officials.RemoveOfficial(ctx, hotline, now)
	must(t, "RemoveOfficial", err)
	if ended != 2 {
		t.Fatalf("RemoveOfficial ended %d calls, want 2 (e3, e4)", ended)
	}
	evs := after(t, l, alice, headA)
	wantCallEvents(t, "alice's feed", evs,
		"STAMPED e1", "STAMPED e2", "STAMPED e3", "ENDED e1", "CONFIRMED e2", "LOCKED e2", "ENDED e3")
	for i := 1; i < len(evs); i++ {
		if evs[i].ID == evs[i-1].ID || evs[i].ID == "" {
			t.Fatalf("event ids %q and %q: want distinct, non-empty", evs[i-1].ID, evs[i].ID)
		}
	}
	if got, want := evs[0].Time.UTC(), now.Add(time.Hour).Add(-10*time.Minute); !got.Equal(want) {
		t.Errorf("STAMPED time %v, want the call's create time %v", got, want)
	}
	if got, want := evs[3].Time.UTC(), now; !got.Equal(want) {
		t.Errorf("ENDED time %v, want the end time %v", got, want)
	}
	wantCallEvents(t, "bob's feed", after(t, l, bob, headB), "STAMPED e4", "ENDED e4")
}

func testEventsResume(t *testing.T, h Harness, l verify.EventLog) {
	ctx := context.Background()
	head, err := l.EventsHead(ctx, alice)
	must(t, "EventsHead", err)
	must(t, "CreateCall", h.Store.CreateCall(ctx, call("r1", alice, base.Add(time.Hour)), ev("call.stamp")))
	first := after(t, l, alice, head)
	wantCallEvents(t, "first read", first, "STAMPED r1")
	must(t, "CreateCall", h.Store.CreateCall(ctx, call("r2", alice, base.Add(time.Hour)), ev("call.stamp")))
	_, err = h.Store.EndCall(ctx, "r1", "", base, ev("call.end"))
	must(t, "EndCall", err)
	wantCallEvents(t, "after the first event", after(t, l, alice, first[0].ID), "STAMPED r2", "ENDED r1")
	// A limit cuts the answer; the next read resumes after the last one.
	page, err := l.EventsAfter(ctx, alice, head, 2)
	must(t, "EventsAfter limit 2", err)
	wantCallEvents(t, "limit 2", page.Events, "STAMPED r1", "STAMPED r2")
	if !page.More {
		t.Fatal("a read cut by its limit says there is no more")
	}
	wantCallEvents(t, "the rest", after(t, l, alice, page.Next), "ENDED r1")
	// The head now is past everything.
	head2, err := l.EventsHead(ctx, alice)
	must(t, "EventsHead", err)
	wantCallEvents(t, "after the head", after(t, l, alice, head2))
}

func testEventsWake(t *testing.T, h Harness, l verify.EventLog) {
	ctx := context.Background()
	wakeA, stopA := l.SubscribeEvents(alice)
	defer stopA()
	wakeB, stopB := l.SubscribeEvents(bob)
	defer stopB()
	// A subscription on a networked store may take a moment to be in
	// place; the test waits for the wake-up, never for a fixed time, and
	// stamps again until one comes (each stamp is an event).
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		must(t, "CreateCall", h.Store.CreateCall(ctx, call(fmt.Sprintf("w%d", i), alice, base.Add(time.Hour)), ev("call.stamp")))
		select {
		case <-wakeA:
		case <-time.After(200 * time.Millisecond):
			continue
		case <-deadline:
			t.Fatal("alice's subscriber was not woken by a call stamped to alice")
		}
		break
	}
	select {
	case <-wakeB:
		t.Fatal("bob's subscriber was woken by alice's call")
	default:
	}
}

func testEventsUnknownCursor(t *testing.T, l verify.EventLog) {
	for _, since := range []string{"not-a-position", "-1"} {
		_, err := l.EventsAfter(context.Background(), alice, since, 10)
		if !errors.Is(err, verify.ErrCursorGone) {
			t.Errorf("EventsAfter(%q): %v, want ErrCursorGone", since, err)
		}
	}
}
