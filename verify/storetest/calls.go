package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

func testCalls(t *testing.T, s verify.Store) {
	ctx := context.Background()
	c := call("call1", alice, base)
	must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	got, err := s.GetCall(ctx, "call1")
	must(t, "GetCall", err)
	if !reflect.DeepEqual(norm(got), norm(c)) {
		t.Fatalf("GetCall = %+v, want %+v", got, c)
	}
	dup := call("call1", bob, base.Add(time.Hour))
	wantKind(t, "CreateCall with a taken id", s.CreateCall(ctx, dup, ev("call.stamp")), fault.ErrAlreadyExists)
	got, err = s.GetCall(ctx, "call1")
	must(t, "GetCall", err)
	if got.Callee != alice {
		t.Fatalf("a refused CreateCall changed the call: callee %s", got.Callee.Masked())
	}
	_, err = s.GetCall(ctx, "nope")
	wantKind(t, "GetCall unknown", err, fault.ErrNotFound)
}

func ids(cs []verify.Call) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testListCallsTo(t *testing.T, s verify.Store) {
	ctx := context.Background()
	for _, c := range []verify.Call{
		call("a1", alice, base.Add(1*time.Minute)),
		call("a3", alice, base.Add(3*time.Minute)),
		call("a2", alice, base.Add(2*time.Minute)),
		call("b1", bob, base.Add(5*time.Minute)),
		call("x1", aliceish, base.Add(4*time.Minute)),
	} {
		must(t, "CreateCall", s.CreateCall(ctx, c, ev("call.stamp")))
	}
	ended := call("a4", alice, base.Add(10*time.Minute))
	ended.State = verify.StateEnded
	must(t, "CreateCall", s.CreateCall(ctx, ended, ev("call.stamp")))
	locked := call("a5", alice, base.Add(11*time.Minute))
	locked.State = verify.StateLocked
	must(t, "CreateCall", s.CreateCall(ctx, locked, ev("call.stamp")))

	tests := []struct {
		name   string
		callee phone.Number
		after  time.Time
		limit  int
		want   []string
	}{
		{"alice's active calls, latest expiry first; ended and locked ones left out", alice, base, 100, []string{"a3", "a2", "a1"}},
		{"only those expiring after", alice, base.Add(2 * time.Minute), 100, []string{"a3"}},
		{"limit", alice, base, 2, []string{"a3", "a2"}},
		{"a number that has alice's as prefix is someone else", aliceish, base, 100, []string{"x1"}},
		{"bob", bob, base, 100, []string{"b1"}},
		{"nobody", phone.Number("+8613700137000"), base, 100, []string{}},
		{"all expired", alice, base.Add(time.Hour), 100, []string{}},
	}
	for _, tt := range tests {
		got, err := s.ListCallsTo(ctx, tt.callee, tt.after, tt.limit)
		must(t, tt.name, err)
		if g := ids(got); !reflect.DeepEqual(g, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, g, tt.want)
		}
	}
	got, err := s.ListCallsTo(ctx, alice, base, 1)
	must(t, "ListCallsTo", err)
	if a3 := call("a3", alice, base.Add(3*time.Minute)); len(got) != 1 || !reflect.DeepEqual(norm(got[0]), norm(a3)) {
		t.Errorf("ListCallsTo returns the whole call: got %+v", got)
	}
}

func testEndCall(t *testing.T, s verify.Store) {
	ctx := context.Background()
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")))
	at := base.Add(-time.Minute)
	got, err := s.EndCall(ctx, "c1", "", at, ev("call.end"))
	must(t, "EndCall", err)
	if got.State != verify.StateEnded || !got.EndTime.Equal(at) {
		t.Fatalf("EndCall: state %v end %v, want ENDED at %v", got.State, got.EndTime, at)
	}
	again, err := s.EndCall(ctx, "c1", "", at.Add(30*time.Second), ev("call.end"))
	must(t, "EndCall again", err)
	if again.State != verify.StateEnded || !again.EndTime.Equal(at) {
		t.Fatalf("second EndCall changed the call: %v at %v", again.State, again.EndTime)
	}
	stored, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if stored.State != verify.StateEnded || !stored.EndTime.Equal(at) {
		t.Fatalf("EndCall not stored: %v at %v", stored.State, stored.EndTime)
	}

	must(t, "CreateCall", s.CreateCall(ctx, call("c2", alice, base), ev("call.stamp")))
	got, err = s.EndCall(ctx, "c2", "", base, ev("call.end")) // exactly at expiry: already expired
	must(t, "EndCall expired", err)
	if got.State != verify.StateActive || !got.EndTime.IsZero() {
		t.Fatalf("EndCall of an expired call changed it: %v at %v", got.State, got.EndTime)
	}

	locked := call("c3", alice, base)
	locked.State = verify.StateLocked
	must(t, "CreateCall", s.CreateCall(ctx, locked, ev("call.stamp")))
	got, err = s.EndCall(ctx, "c3", "", at, ev("call.end"))
	must(t, "EndCall locked", err)
	if got.State != verify.StateLocked {
		t.Fatalf("EndCall of a locked call: %v, want LOCKED", got.State)
	}
	_, err = s.EndCall(ctx, "nope", "", at, ev("call.end"))
	wantKind(t, "EndCall unknown", err, fault.ErrNotFound)
}

func testRecordCodeAttempt(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const limit = 5
	now := base.Add(-5 * time.Minute)
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")))

	got, ok, err := s.RecordCodeAttempt(ctx, "c1", 100, limit, now, ev("call.lock"), ev("call.confirm"))
	must(t, "correct attempt", err)
	if !ok || got.WrongAttempts != 0 || got.State != verify.StateActive || got.LastCodeStep != 100 || !got.ConfirmTime.Equal(now) {
		t.Fatalf("correct attempt: match %v, %d wrong, %v, last step %d, confirmed %v", ok, got.WrongAttempts, got.State, got.LastCodeStep, got.ConfirmTime)
	}
	for i := 1; i <= limit; i++ {
		got, ok, err = s.RecordCodeAttempt(ctx, "c1", 0, limit, now, ev("call.lock"), ev("call.confirm"))
		if ok {
			t.Fatalf("wrong attempt %d matched", i)
		}
		must(t, fmt.Sprintf("wrong attempt %d", i), err)
		if got.WrongAttempts != i {
			t.Fatalf("wrong attempt %d: WrongAttempts %d", i, got.WrongAttempts)
		}
		want := verify.StateActive
		if i == limit {
			want = verify.StateLocked
		}
		if got.State != want {
			t.Fatalf("wrong attempt %d: state %v, want %v", i, got.State, want)
		}
	}
	_, _, err = s.RecordCodeAttempt(ctx, "c1", 101, limit, now, ev("call.lock"), ev("call.confirm"))
	wantKind(t, "correct attempt on a locked call", err, fault.ErrConflict)
	_, _, err = s.RecordCodeAttempt(ctx, "c1", 0, limit, now, ev("call.lock"), ev("call.confirm"))
	wantKind(t, "wrong attempt on a locked call", err, fault.ErrConflict)
	stored, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if stored.WrongAttempts != limit || stored.State != verify.StateLocked {
		t.Fatalf("after lock: %d wrong, %v", stored.WrongAttempts, stored.State)
	}

	must(t, "CreateCall", s.CreateCall(ctx, call("c2", alice, base), ev("call.stamp")))
	_, _, err = s.RecordCodeAttempt(ctx, "c2", 100, limit, base, ev("call.lock"), ev("call.confirm"))
	wantKind(t, "attempt at expiry", err, fault.ErrConflict)
	_, _, err = s.RecordCodeAttempt(ctx, "c2", 0, limit, base.Add(time.Second), ev("call.lock"), ev("call.confirm"))
	wantKind(t, "attempt after expiry", err, fault.ErrConflict)
	if c, _ := s.GetCall(ctx, "c2"); c.WrongAttempts != 0 {
		t.Fatalf("an attempt on an expired call counted")
	}

	must(t, "CreateCall", s.CreateCall(ctx, call("c3", alice, base), ev("call.stamp")))
	_, err = s.EndCall(ctx, "c3", "", now, ev("call.end"))
	must(t, "EndCall", err)
	_, _, err = s.RecordCodeAttempt(ctx, "c3", 100, limit, now, ev("call.lock"), ev("call.confirm"))
	wantKind(t, "attempt on an ended call", err, fault.ErrConflict)

	_, _, err = s.RecordCodeAttempt(ctx, "nope", 0, limit, now, ev("call.lock"), ev("call.confirm"))
	wantKind(t, "attempt on an unknown call", err, fault.ErrNotFound)
}

func testRecordCodeAttemptConcurrent(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const (
		limit   = 5
		workers = 40
	)
	now := base.Add(-5 * time.Minute)
	must(t, "CreateCall", s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")))
	var (
		wg                           sync.WaitGroup
		mu                           sync.Mutex
		counted, conflicts, lockings int
		other                        []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := s.RecordCodeAttempt(ctx, "c1", 0, limit, now, ev("call.lock"), ev("call.confirm"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				counted++
				if c.State == verify.StateLocked {
					lockings++
				}
			case errors.Is(err, fault.ErrConflict):
				conflicts++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors: %v", other)
	}
	if counted != limit || lockings != 1 || conflicts != workers-limit {
		t.Fatalf("counted %d (want %d), lockings %d (want 1), conflicts %d (want %d)",
			counted, limit, lockings, conflicts, workers-limit)
	}
	c, err := s.GetCall(ctx, "c1")
	must(t, "GetCall", err)
	if c.WrongAttempts != limit || c.State != verify.StateLocked {
		t.Fatalf("after the race: %d wrong, %v", c.WrongAttempts, c.State)
	}

	// Right and wrong codes racing: the right one is accepted at most
	// once, and only while fewer than limit wrong ones were recorded; a
	// right code brought again counts as wrong.
	must(t, "CreateCall", s.CreateCall(ctx, call("c2", alice, base), ev("call.stamp")))
	var accepted, wrongCounted int
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			step := int64(0)
			if i%4 == 0 {
				step = 100
			}
			c, ok, err := s.RecordCodeAttempt(ctx, "c2", step, limit, now, ev("call.lock"), ev("call.confirm"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && ok:
				accepted++
				if c.WrongAttempts >= limit {
					t.Errorf("a right code was accepted with %d wrong attempts recorded", c.WrongAttempts)
				}
			case err == nil:
				wrongCounted++
			}
		}()
	}
	wg.Wait()
	if wrongCounted != limit || accepted > 1 {
		t.Fatalf("%d wrong attempts counted (want %d), %d matches (want at most 1)", wrongCounted, limit, accepted)
	}
}
