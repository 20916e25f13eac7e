// Package storetest is the conformance suite of verify.Store: every
// implementation (the embedded bbolt store today, Redis later) must pass
// Run, including the concurrency of the methods that must be atomic.
package storetest

import (
	"context"
	"errors"
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
	t.Run("CallsCarryTheirLinesGeneration", func(t *testing.T) { t.Parallel(); testCallsCarryTheirLinesGen(t, withHarness(t)) })
	t.Run("RemovingAnOfficialNumberEndsItsCalls", func(t *testing.T) { t.Parallel(); testRemoveOfficial(t, withHarness(t)) })
	t.Run("EndCallOfAnotherDialer", func(t *testing.T) { t.Parallel(); testEndCallOwner(t, withHarness(t)) })
	t.Run("CodesAreOneTime", func(t *testing.T) { t.Parallel(); testCodesOneTime(t, newStore(t)) })
	t.Run("CodesAreOneTimeConcurrent", func(t *testing.T) { t.Parallel(); testCodesOneTimeConcurrent(t, newStore(t)) })
	t.Run("MutationsAppendTheirEvents", func(t *testing.T) { t.Parallel(); testAuditEvents(t, withHarness(t)) })
	t.Run("NewCallID", func(t *testing.T) { t.Parallel(); testNewCallID(t, newStore(t)) })
	t.Run("TakenIDFromAnotherLine", func(t *testing.T) { t.Parallel(); testTakenIDFromAnotherLine(t, withHarness(t)) })
	t.Run("Calls", func(t *testing.T) { t.Parallel(); testCalls(t, newStore(t)) })
	t.Run("ListCallsTo", func(t *testing.T) { t.Parallel(); testListCallsTo(t, newStore(t)) })
	t.Run("ListCallsToWithLine", func(t *testing.T) { t.Parallel(); testLineReader(t, withHarness(t)) })
	t.Run("GetCallWithLine", func(t *testing.T) { t.Parallel(); testCallLineReader(t, withHarness(t)) })
	t.Run("EndCall", func(t *testing.T) { t.Parallel(); testEndCall(t, newStore(t)) })
	t.Run("RecordCodeAttempt", func(t *testing.T) { t.Parallel(); testRecordCodeAttempt(t, newStore(t)) })
	t.Run("RecordCodeAttemptConcurrent", func(t *testing.T) { t.Parallel(); testRecordCodeAttemptConcurrent(t, newStore(t)) })
	t.Run("Devices", func(t *testing.T) { t.Parallel(); testDevices(t, newStore(t)) })
	t.Run("DevicesConcurrent", func(t *testing.T) { t.Parallel(); testDevicesConcurrent(t, newStore(t)) })
	t.Run("Preferences", func(t *testing.T) { t.Parallel(); testPreferences(t, newStore(t)) })
	t.Run("SigningKeys", func(t *testing.T) { t.Parallel(); testSigningKeys(t, newStore(t)) })
	t.Run("SigningKeysConcurrent", func(t *testing.T) { t.Parallel(); testSigningKeysConcurrent(t, newStore(t)) })
	t.Run("PruneCalls", func(t *testing.T) { t.Parallel(); testPruneCalls(t, withHarness(t)) })
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
// norm is c as compared: times in UTC, and without Gen, which the store
// sets from the caller's official record (testCallsCarryTheirLinesGen).
func norm(c verify.Call) verify.Call {
	c.CreateTime, c.ExpireTime, c.EndTime = c.CreateTime.UTC(), c.ExpireTime.UTC(), c.EndTime.UTC()
	c.Gen = ""
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
		"PruneCalls": func() error {
			_, err := s.PruneCalls(ctx, base, 10, ev("call.prune"))
			return err
		}(),
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
