// Package storetest is the conformance suite of verify.Store: every
// implementation (the embedded bbolt store today, Redis later) must pass
// Run, including the concurrency of the methods that must be atomic.
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

// Officials registers and removes official numbers in the numbers
// domain's store of the same backend (blocklist.Store), which the calls
// store reads when it stamps a call.
type Officials interface {
	// AddOfficial registers n: placing calls (OUTBOUND), or inbound-only.
	AddOfficial(ctx context.Context, n phone.Number, placesCalls bool) error
	// RemoveOfficial deletes n (blocklist.Store.DeleteOfficialNumber at
	// at) and returns how many live calls it ended.
	RemoveOfficial(ctx context.Context, n phone.Number, at time.Time) (ended int, err error)
}

// Harness is one empty backend: the calls store, the audit store its
// writes append to, and its official numbers.
type Harness struct {
	Store     verify.Store
	Audit     audit.Store
	Officials Officials
}

// Run exercises every Store method on fresh backends made by newHarness.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	// Most tests stamp calls from hotline, which must be an official
	// number that places calls for CreateCall to accept them.
	newStore := func(t *testing.T) verify.Store {
		h := newHarness(t)
		must(t, "AddOfficial", h.Officials.AddOfficial(context.Background(), hotline, true))
		return h.Store
	}
	withHarness := func(t *testing.T) Harness {
		h := newHarness(t)
		must(t, "AddOfficial", h.Officials.AddOfficial(context.Background(), hotline, true))
		return h
	}
	t.Run("CreateCallChecksTheCaller", func(t *testing.T) { t.Parallel(); testCreateCallChecksCaller(t, newHarness(t)) })
	t.Run("ListCallsFrom", func(t *testing.T) { t.Parallel(); testListCallsFrom(t, withHarness(t)) })
	t.Run("EndCallsFrom", func(t *testing.T) { t.Parallel(); testEndCallsFrom(t, withHarness(t)) })
	t.Run("RemovingAnOfficialNumberEndsItsCalls", func(t *testing.T) { t.Parallel(); testRemoveOfficial(t, withHarness(t)) })
	t.Run("EndCallOfAnotherDialer", func(t *testing.T) { t.Parallel(); testEndCallOwner(t, withHarness(t)) })
	t.Run("CodesAreOneTime", func(t *testing.T) { t.Parallel(); testCodesOneTime(t, newStore(t)) })
	t.Run("CodesAreOneTimeConcurrent", func(t *testing.T) { t.Parallel(); testCodesOneTimeConcurrent(t, newStore(t)) })
	t.Run("MutationsAppendTheirEvents", func(t *testing.T) { t.Parallel(); testAuditEvents(t, withHarness(t)) })
	t.Run("Calls", func(t *testing.T) { t.Parallel(); testCalls(t, newStore(t)) })
	t.Run("ListCallsTo", func(t *testing.T) { t.Parallel(); testListCallsTo(t, newStore(t)) })
	t.Run("EndCall", func(t *testing.T) { t.Parallel(); testEndCall(t, newStore(t)) })
	t.Run("RecordCodeAttempt", func(t *testing.T) { t.Parallel(); testRecordCodeAttempt(t, newStore(t)) })
	t.Run("RecordCodeAttemptConcurrent", func(t *testing.T) { t.Parallel(); testRecordCodeAttemptConcurrent(t, newStore(t)) })
	t.Run("Devices", func(t *testing.T) { t.Parallel(); testDevices(t, newStore(t)) })
	t.Run("DevicesConcurrent", func(t *testing.T) { t.Parallel(); testDevicesConcurrent(t, newStore(t)) })
	t.Run("Preferences", func(t *testing.T) { t.Parallel(); testPreferences(t, newStore(t)) })
	t.Run("SigningKeys", func(t *testing.T) { t.Parallel(); testSigningKeys(t, newStore(t)) })
	t.Run("SigningKeysConcurrent", func(t *testing.T) { t.Parallel(); testSigningKeysConcurrent(t, newStore(t)) })
	t.Run("CanceledContext", func(t *testing.T) { t.Parallel(); testCanceled(t, newStore(t)) })
}

var (
	base     = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	alice    = phone.Number("+8613800138000")
	bob      = phone.Number("+8613900139000")
	aliceish = phone.Number("+86138001380001") // alice's number is a prefix of it
	hotline  = phone.Number("+8695188")
)

func call(id string, callee phone.Number, expire time.Time) verify.Call {
	return verify.Call{
		ID:            id,
		Caller:        hotline,
		Callee:        callee,
		CustomerID:    "cust-1",
		Reason:        verify.ReasonRefund,
		ReasonText:    "退款进度回访",
		OrderRef:      "ORD-1",
		AgentID:       "a-7",
		AgentName:     "王小明",
		DisplayName:   "Example Support",
		OrigID:        "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
		CreateBy:      "dialer-1",
		State:         verify.StateActive,
		CreateTime:    expire.Add(-10 * time.Minute),
		ExpireTime:    expire,
		DeviceID:      "dev-1",
		SealedSecret:  []byte{1, 2, 3, 4},
		WrongAttempts: 0,
	}
}

// norm makes times comparable with reflect.DeepEqual.
func norm(c verify.Call) verify.Call {
	c.CreateTime, c.ExpireTime, c.EndTime = c.CreateTime.UTC(), c.ExpireTime.UTC(), c.EndTime.UTC()
	return c
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got error %v, want %v", what, err, kind)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

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

func device(id string, customer phone.Number, at time.Time) verify.Device {
	return verify.Device{ID: id, Customer: customer, Label: "phone " + id, SealedSecret: []byte("sealed-" + id), CreateTime: at}
}

func devIDs(ds []verify.Device) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testDevices(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const limit = 3
	list, err := s.ListDevices(ctx, alice)
	must(t, "ListDevices empty", err)
	if len(list) != 0 {
		t.Fatalf("ListDevices of nobody: %v", devIDs(list))
	}
	d1 := device("d1", alice, base)
	must(t, "CreateDevice", s.CreateDevice(ctx, d1, limit, ev("device.enroll")))
	must(t, "CreateDevice", s.CreateDevice(ctx, device("d3", alice, base.Add(2*time.Minute)), limit, ev("device.enroll")))
	must(t, "CreateDevice", s.CreateDevice(ctx, device("d2", alice, base.Add(time.Minute)), limit, ev("device.enroll")))
	must(t, "CreateDevice other customer", s.CreateDevice(ctx, device("e1", aliceish, base), limit, ev("device.enroll")))
	wantKind(t, "CreateDevice past the limit", s.CreateDevice(ctx, device("d4", alice, base), limit, ev("device.enroll")), fault.ErrResourceExhausted)
	wantKind(t, "CreateDevice with a taken id", s.CreateDevice(ctx, device("e1", aliceish, base), limit, ev("device.enroll")), fault.ErrAlreadyExists)

	got, err := s.GetDevice(ctx, alice, "d1")
	must(t, "GetDevice", err)
	got.CreateTime = got.CreateTime.UTC()
	if !reflect.DeepEqual(got, d1) {
		t.Fatalf("GetDevice = %+v, want %+v", got, d1)
	}
	_, err = s.GetDevice(ctx, bob, "d1")
	wantKind(t, "GetDevice of somebody else's device", err, fault.ErrNotFound)
	_, err = s.GetDevice(ctx, alice, "e1")
	wantKind(t, "GetDevice of a prefix-number's device", err, fault.ErrNotFound)

	list, err = s.ListDevices(ctx, alice)
	must(t, "ListDevices", err)
	if g, w := devIDs(list), []string{"d3", "d2", "d1"}; !reflect.DeepEqual(g, w) {
		t.Fatalf("ListDevices = %v, want newest first %v", g, w)
	}

	wantKind(t, "DeleteDevice of somebody else's device", s.DeleteDevice(ctx, bob, "d1", ev("device.delete")), fault.ErrNotFound)
	must(t, "DeleteDevice", s.DeleteDevice(ctx, alice, "d3", ev("device.delete")))
	wantKind(t, "DeleteDevice twice", s.DeleteDevice(ctx, alice, "d3", ev("device.delete")), fault.ErrNotFound)
	_, err = s.GetDevice(ctx, alice, "d3")
	wantKind(t, "GetDevice after delete", err, fault.ErrNotFound)
	must(t, "CreateDevice after a delete frees a place", s.CreateDevice(ctx, device("d5", alice, base.Add(3*time.Minute)), limit, ev("device.enroll")))
	list, err = s.ListDevices(ctx, aliceish)
	must(t, "ListDevices", err)
	if g, w := devIDs(list), []string{"e1"}; !reflect.DeepEqual(g, w) {
		t.Fatalf("ListDevices of the prefix number = %v, want %v", g, w)
	}
}

func testDevicesConcurrent(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const (
		limit   = 5
		workers = 20
	)
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, full   int
		unexpected []error
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateDevice(ctx, device(fmt.Sprintf("d%02d", i), alice, base), limit, ev("device.enroll"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, fault.ErrResourceExhausted):
				full++
			default:
				unexpected = append(unexpected, err)
			}
		}()
	}
	wg.Wait()
	if len(unexpected) > 0 || ok != limit || full != workers-limit {
		t.Fatalf("created %d (want %d), refused %d, errors %v", ok, limit, full, unexpected)
	}
}

func testPreferences(t *testing.T, s verify.Store) {
	ctx := context.Background()
	_, err := s.GetPreferences(ctx, alice)
	wantKind(t, "GetPreferences never set", err, fault.ErrNotFound)
	p := verify.Preferences{MarketingCallsAllowed: false, UpdateTime: base}
	must(t, "PutPreferences", s.PutPreferences(ctx, alice, p, ev("preferences.update")))
	got, err := s.GetPreferences(ctx, alice)
	must(t, "GetPreferences", err)
	if got.MarketingCallsAllowed || !got.UpdateTime.Equal(base) {
		t.Fatalf("GetPreferences = %+v, want %+v", got, p)
	}
	_, err = s.GetPreferences(ctx, aliceish)
	wantKind(t, "GetPreferences of another customer", err, fault.ErrNotFound)
	must(t, "PutPreferences", s.PutPreferences(ctx, alice, verify.Preferences{MarketingCallsAllowed: true, UpdateTime: base.Add(time.Minute)}, ev("preferences.update")))
	got, err = s.GetPreferences(ctx, alice)
	must(t, "GetPreferences", err)
	if !got.MarketingCallsAllowed || !got.UpdateTime.Equal(base.Add(time.Minute)) {
		t.Fatalf("GetPreferences after replace = %+v", got)
	}
}

func key(id string, at time.Time) verify.SigningKey {
	return verify.SigningKey{
		ID: id, Algorithm: verify.AlgES256, State: verify.KeyCurrent, CreateTime: at,
		PublicJWK: []byte(`{"kid":"` + id + `"}`), SealedPrivate: []byte("sealed-" + id),
	}
}

func current(t *testing.T, keys []verify.SigningKey) string {
	t.Helper()
	cur := ""
	for _, k := range keys {
		if k.State == verify.KeyCurrent {
			if cur != "" {
				t.Fatalf("two current keys: %s and %s", cur, k.ID)
			}
			cur = k.ID
		}
	}
	return cur
}

func testSigningKeys(t *testing.T, s verify.Store) {
	ctx := context.Background()
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys empty", err)
	if len(keys) != 0 {
		t.Fatalf("ListSigningKeys of an empty store: %d keys", len(keys))
	}
	wantKind(t, "rotate expecting a key that does not exist",
		s.RotateSigningKey(ctx, "k0", key("k1", base), base, base, ev("signing_key.rotate")), fault.ErrConflict)

	k1 := key("k1", base)
	must(t, "create the first key", s.RotateSigningKey(ctx, "", k1, time.Time{}, time.Time{}, ev("signing_key.rotate")))
	wantKind(t, "create the first key twice", s.RotateSigningKey(ctx, "", key("k9", base), time.Time{}, time.Time{}, ev("signing_key.rotate")), fault.ErrConflict)
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 1 || current(t, keys) != "k1" {
		t.Fatalf("after the first key: %+v", keys)
	}
	k := keys[0]
	if k.Algorithm != k1.Algorithm || !k.CreateTime.Equal(base) || string(k.PublicJWK) != string(k1.PublicJWK) ||
		string(k.SealedPrivate) != string(k1.SealedPrivate) || !k.RetireTime.IsZero() || !k.PublishUntil.IsZero() {
		t.Fatalf("stored key = %+v, want %+v", k, k1)
	}

	retire, until := base.Add(time.Hour), base.Add(3*time.Hour)
	must(t, "rotate", s.RotateSigningKey(ctx, "k1", key("k2", retire), retire, until, ev("signing_key.rotate")))
	wantKind(t, "rotate from a stale current key", s.RotateSigningKey(ctx, "k1", key("k3", retire), retire, until, ev("signing_key.rotate")), fault.ErrConflict)
	wantKind(t, "rotate to an existing key id", s.RotateSigningKey(ctx, "k2", key("k1", retire), retire, until, ev("signing_key.rotate")), fault.ErrAlreadyExists)
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 2 || current(t, keys) != "k2" || keys[0].ID != "k2" || keys[1].ID != "k1" {
		t.Fatalf("after rotation (want k2 current, newest first): %+v", keys)
	}
	old := keys[1]
	if old.State != verify.KeyRetired || !old.RetireTime.Equal(retire) || !old.PublishUntil.Equal(until) {
		t.Fatalf("retired key = state %v retire %v until %v", old.State, old.RetireTime, old.PublishUntil)
	}
	if string(old.PublicJWK) != string(k1.PublicJWK) {
		t.Fatalf("retiring changed the public key")
	}

	// A key made in the same clock tick as the current one still lists
	// first once it is current: order is current, then latest retired.
	must(t, "rotate again", s.RotateSigningKey(ctx, "k2", key("k0", retire), retire.Add(time.Hour), until.Add(time.Hour), ev("signing_key.rotate")))
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if got := []string{keys[0].ID, keys[1].ID, keys[2].ID}; !reflect.DeepEqual(got, []string{"k0", "k2", "k1"}) {
		t.Fatalf("order %v, want current first, then the latest retired", got)
	}
}

func testSigningKeysConcurrent(t *testing.T, s verify.Store) {
	ctx := context.Background()
	race := func(expect string, prefix string) (wins int) {
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.RotateSigningKey(ctx, expect, key(fmt.Sprintf("%s%d", prefix, i), base), base, base.Add(time.Hour), ev("signing_key.rotate"))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, fault.ErrConflict):
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		return wins
	}
	if w := race("", "first"); w != 1 {
		t.Fatalf("%d instances created the first key, want exactly 1", w)
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	cur := current(t, keys)
	if w := race(cur, "next"); w != 1 {
		t.Fatalf("%d instances rotated from the same key, want exactly 1", w)
	}
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 2 || current(t, keys) == cur {
		t.Fatalf("after the race: %d keys, current %s", len(keys), current(t, keys))
	}
}

func testCanceled(t *testing.T, s verify.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]error{
		"CreateCall": s.CreateCall(ctx, call("c1", alice, base), ev("call.stamp")),
		"GetCall": func() error {
			_, err := s.GetCall(ctx, "c1")
			return err
		}(),
		"ListCallsTo": func() error {
			_, err := s.ListCallsTo(ctx, alice, base, 10)
			return err
		}(),
		"ListCallsFrom": func() error {
			_, _, err := s.ListCallsFrom(ctx, hotline, base, "", 10)
			return err
		}(),
		"EndCallsFrom": func() error {
			_, err := s.EndCallsFrom(ctx, hotline, base, ev("call.end_by_caller"))
			return err
		}(),
		"EndCall": func() error {
			_, err := s.EndCall(ctx, "c1", "", base, ev("call.end"))
			return err
		}(),
		"RecordCodeAttempt": func() error {
			_, _, err := s.RecordCodeAttempt(ctx, "c1", 0, 5, base, ev("call.lock"), ev("call.confirm"))
			return err
		}(),
		"CreateDevice": s.CreateDevice(ctx, device("d1", alice, base), 5, ev("device.enroll")),
		"GetDevice": func() error {
			_, err := s.GetDevice(ctx, alice, "d1")
			return err
		}(),
		"ListDevices": func() error {
			_, err := s.ListDevices(ctx, alice)
			return err
		}(),
		"DeleteDevice": s.DeleteDevice(ctx, alice, "d1", ev("device.delete")),
		"GetPreferences": func() error {
			_, err := s.GetPreferences(ctx, alice)
			return err
		}(),
		"PutPreferences": s.PutPreferences(ctx, alice, verify.Preferences{}, ev("preferences.update")),
		"ListSigningKeys": func() error {
			_, err := s.ListSigningKeys(ctx)
			return err
		}(),
		"RotateSigningKey": s.RotateSigningKey(ctx, "", key("k1", base), base, base, ev("signing_key.rotate")),
	}
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written.
	if _, err := s.GetCall(context.Background(), "c1"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("a canceled CreateCall stored the call: %v", err)
	}
}
