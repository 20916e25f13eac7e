package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// A memory that still holds a line the store no longer has (deleted on
// another instance an instant ago, its calls not yet marked ended by a
// networked store) never makes a VERIFIED: the answer for a live number
// is decided on the registration read at the moment of asking.
func TestAStaleMemoryNeverMakesAVerified(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.stamp(outbound, aliceRaw)
	n := e.num(outbound)
	e.dir.remember(n)
	e.dir.mu.Lock()
	e.dir.gone = map[phone.Number]bool{n: true}
	e.dir.mu.Unlock()
	res, err := e.svc.CheckCaller(ctx, e.alice, outbound, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictUnknown || res.Call != nil {
		t.Errorf("CheckCaller with the line in memory but gone from the store: %v (call %v), want UNKNOWN", res.Verdict, res.Call)
	}
	if mine, err := e.svc.ListMyCalls(ctx, e.alice, ""); err != nil || len(mine) != 0 {
		t.Errorf("ListMyCalls: %d cards, %v; want none", len(mine), err)
	}
}

// A line registered a moment ago on another instance, with a call stamped
// from it there, is not in this instance's memory yet: its check reads the
// store, as for every number memory does not know, and verifies at once.
func TestALineNotYetInMemoryVerifiesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const fresh = "0571 8888 1299"
	n := e.num(fresh)
	e.dir.remember(n) // not registered, as memory knows it
	e.addOfficial(fresh, "新线路", blocklist.DirectionOutbound)
	e.stamp(fresh, aliceRaw)
	res, err := e.svc.CheckCaller(ctx, e.alice, fresh, "")
	if err != nil || res.Verdict != verify.VerdictVerified {
		t.Fatalf("CheckCaller before memory has the line: %v, %v; want VERIFIED", res.Verdict, err)
	}
	// And the verdict without a call is the line's, as the store has it.
	if res, err := e.svc.CheckCaller(ctx, e.bob, fresh, ""); err != nil || res.Verdict != verify.VerdictOfficialNotCalling {
		t.Fatalf("CheckCaller of the line by another customer: %v, %v; want OFFICIAL_NOT_CALLING", res.Verdict, err)
	}
}

// A number memory knows cannot verify is answered from memory: with the
// call store down, the blocked and hotline numbers still get their
// verdicts, and a live official number's check, or an unknown number's
// (memory may not know a line registered a moment ago), fails rather than
// guess.
func TestNumbersThatCannotVerifyNeedNoCallRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.block(fraudRaw, "CATEGORY_SCAM")
	e.stamp(outbound, aliceRaw)
	e.store.down.Store(true)
	for caller, want := range map[string]verify.Verdict{
		fraudRaw: verify.VerdictKnownFraud, hotlineRaw: verify.VerdictSpoofedHotline,
	} {
		if res, err := e.svc.CheckCaller(ctx, e.alice, caller, ""); err != nil || res.Verdict != want {
			t.Errorf("CheckCaller %s with the call store down: %v, %v; want %v", caller, res.Verdict, err, want)
		}
	}
	for _, caller := range []string{outbound, "+44 20 7946 0958"} {
		if res, err := e.svc.CheckCaller(ctx, e.alice, caller, ""); err == nil {
			t.Errorf("CheckCaller %s with the call store down: %v, want an error", caller, res.Verdict)
		}
	}
}

// StampCall starts from memory when it knows the caller as a line that
// places calls (the store decides in the step that creates the call), and
// reads the store for any other number: a line registered a moment ago on
// another instance is stamped at once, and one memory still holds after
// its deletion is refused by the store.
func TestStampCallReadsTheStoreOnlyForLinesMemoryDoesNotKnow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.dir.remember(e.num(outbound))
	e.dir.reads.Store(0)
	st := e.stamp(outbound, aliceRaw)
	if n := e.dir.reads.Load(); n != 0 {
		t.Errorf("a stamp from a line memory knows read the directory's store %d times, want 0", n)
	}
	if st.Call.DisplayName != "示例平台客服" {
		t.Errorf("display name %q, want memory's", st.Call.DisplayName)
	}

	const fresh = "0571 8888 1299"
	e.dir.remember(e.num(fresh)) // not registered, as memory knows it
	e.addOfficial(fresh, "新线路", blocklist.DirectionOutbound)
	e.dir.reads.Store(0)
	if st := e.stamp(fresh, aliceRaw); st.Call.DisplayName != "新线路" {
		t.Errorf("a line not yet in memory: display name %q, want the store's", st.Call.DisplayName)
	}
	if n := e.dir.reads.Load(); n != 1 {
		t.Errorf("a stamp from a line memory does not know read the directory's store %d times, want 1", n)
	}

	e.removeOfficial(outbound) // memory still holds it
	_, err := e.svc.StampCall(ctx, dialer, stampReq(outbound, aliceRaw))
	if msg, _ := fault.Message(err); !errors.Is(err, fault.ErrFailedPrecondition) || msg != "caller_number is not an official number that may place calls" {
		t.Errorf("a stamp from a deleted line memory still holds: %v, want FAILED_PRECONDITION with the friendly message", err)
	}

	// Registered again under another name: memory still holds the old
	// registration, whose generation the store refuses; the stamp starts
	// again from the store's record, and carries its name.
	e.addOfficial(outbound, "示例平台新客服", blocklist.DirectionOutbound)
	e.dir.reads.Store(0)
	again := e.stamp(outbound, aliceRaw)
	if n := e.dir.reads.Load(); n != 1 {
		t.Errorf("that stamp read the directory's store %d times, want 1", n)
	}
	stored, err := e.store.GetCall(ctx, again.Call.ID)
	if err != nil || again.Call.DisplayName != "示例平台新客服" || stored.DisplayName != "示例平台新客服" || stored.Gen == "" || stored.Gen == st.Call.Gen || again.Call.Gen != stored.Gen {
		t.Errorf("a stamp from a line registered again under another name, memory holding the old: name %q, stored %q, gen %q returned %q (old %q), %v; want the new registration's",
			again.Call.DisplayName, stored.DisplayName, stored.Gen, again.Call.Gen, st.Call.Gen, err)
	}
	tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: again.Token})
	if rcd, _ := tr.Claims["rcd"].(map[string]any); err != nil || !tr.Valid || rcd["nam"] != "示例平台新客服" {
		t.Errorf("the token of that stamp: valid %v, rcd %v, %v; want valid, with the new name", tr.Valid, tr.Claims["rcd"], err)
	}
	res, err := e.svc.CheckCaller(ctx, e.alice, outbound, "")
	if err != nil || res.Verdict != verify.VerdictVerified || res.Call.ID != again.Call.ID || res.Call.DisplayName != "示例平台新客服" {
		t.Errorf("CheckCaller of that call: %v (%v), want VERIFIED with the new name", res.Verdict, err)
	}
}
