package verify_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// verifiesNot checks every way the call st from caller could still be
// taken for genuine, and that each answers as if there were no such call:
// CheckCaller gives wantVerdict, ListMyCalls leaves it out,
// GetConfirmationCode and ConfirmCode answer exactly like an unknown call,
// VerifyToken says CALL_ENDED.
func (e *env) verifiesNot(t *testing.T, st verify.Stamped, caller string, wantVerdict verify.Verdict) {
	t.Helper()
	ctx := context.Background()
	res, err := e.svc.CheckCaller(ctx, e.alice, caller, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != wantVerdict || res.Call != nil || res.Code != "" {
		t.Errorf("CheckCaller: %v with call %v code %q, want %v and no call or code", res.Verdict, res.Call != nil, res.Code, wantVerdict)
	}
	mine, err := e.svc.ListMyCalls(ctx, e.alice, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mine {
		if m.Call.ID == st.Call.ID {
			t.Errorf("ListMyCalls still lists the call with code %q", m.Code)
		}
	}
	_, _, err = e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
	_, _, errUnknown := e.svc.GetConfirmationCode(ctx, dialer, "aaaaaaaaaaaaaaaaaaaaaaaaaa")
	msg, _ := fault.Message(err)
	msgUnknown, _ := fault.Message(errUnknown)
	if !errors.Is(err, fault.ErrNotFound) || msg != msgUnknown {
		t.Errorf("GetConfirmationCode: %v, want exactly the answer of an unknown call (%v)", err, errUnknown)
	}
	cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code)
	if err != nil || cr != (verify.ConfirmResult{}) {
		t.Errorf("ConfirmCode of the right code: %+v %v, want the answer of an unknown call", cr, err)
	}
	tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token})
	if err != nil || tr.Valid || tr.Failure != verify.TokenCallEnded {
		t.Errorf("VerifyToken: valid %v failure %v (%v), want CALL_ENDED", tr.Valid, tr.Failure, err)
	}
}

func TestDeletingAnOfficialNumberEndsItsCalls(t *testing.T) {
	t.Parallel()
	eachRecordSource(t, func(t *testing.T, e *env) {
		st := e.stamp(outbound, aliceRaw)
		other := e.stamp(both, aliceRaw)
		if n := e.removeOfficial(outbound); n != 1 {
			t.Fatalf("deleting the number ended %d calls, want 1", n)
		}
		e.verifiesNot(t, st, outbound, verify.VerdictUnknown)
		c, err := e.svc.GetCall(context.Background(), dialer, st.Call.ID)
		if err != nil || c.State != verify.StateEnded || !c.EndTime.Equal(e.clock.Now()) {
			t.Fatalf("the call after its number was deleted: %v ended %v (%v), want ENDED now", c.State, c.EndTime, err)
		}
		// A call from another official number is untouched.
		res, err := e.svc.CheckCaller(context.Background(), e.alice, both, "")
		if err != nil || res.Verdict != verify.VerdictVerified || res.Call.ID != other.Call.ID {
			t.Fatalf("the other number's call: %v (%v), want VERIFIED", res.Verdict, err)
		}
	})
}

func TestReRegisteringInboundOnlyEndsTheCalls(t *testing.T) {
	t.Parallel()
	eachRecordSource(t, func(t *testing.T, e *env) {
		st := e.stamp(outbound, aliceRaw)
		e.removeOfficial(outbound)
		e.addOfficial(outbound, "示例平台客服", blocklist.DirectionInboundOnly)
		e.verifiesNot(t, st, outbound, verify.VerdictSpoofedHotline)
	})
}

// A number the store still knows as outbound but that the directory says
// is inbound-only (or that a backend keeping no calls did not end) must not
// verify either: the verdict asks the directory at the moment of asking.
func TestAnInboundOnlyCallerDoesNotVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.stamp(outbound, aliceRaw)
	e.svc = e.newService(withDirectory(&overrideDir{directory: e.dir, inboundOnly: e.num(outbound)}))
	e.verifiesNot(t, st, outbound, verify.VerdictSpoofedHotline)
}

func TestABlockedCallerDoesNotVerify(t *testing.T) {
	t.Parallel()
	eachRecordSource(t, func(t *testing.T, e *env) {
		st := e.stamp(outbound, aliceRaw)
		e.block(outbound, "CATEGORY_IMPERSONATION")
		e.verifiesNot(t, st, outbound, verify.VerdictKnownFraud)
		// The call itself is not changed: it verifies again if the entry goes.
		e.dir.mu.Lock()
		delete(e.dir.blocked, e.num(outbound))
		e.dir.mu.Unlock()
		res, err := e.svc.CheckCaller(context.Background(), e.alice, outbound, "")
		if err != nil || res.Verdict != verify.VerdictVerified {
			t.Fatalf("after the entry is removed: %v (%v), want VERIFIED", res.Verdict, err)
		}
	})
}

func TestADirectoryErrorIsNeverAVerdict(t *testing.T) {
	t.Parallel()
	eachRecordSource(t, func(t *testing.T, e *env) {
		st := e.stamp(outbound, aliceRaw)
		e.dir.down.Store(true)
		ctx := context.Background()
		if res, err := e.svc.CheckCaller(ctx, e.alice, outbound, ""); err == nil {
			t.Errorf("CheckCaller with the directory down: %v, want an error", res.Verdict)
		}
		if _, err := e.svc.ListMyCalls(ctx, e.alice, ""); err == nil {
			t.Errorf("ListMyCalls with the directory down: no error")
		}
		if _, _, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID); !errors.Is(err, fault.ErrUnavailable) {
			t.Errorf("GetConfirmationCode with the directory down: %v, want unavailable", err)
		}
		if _, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code); !errors.Is(err, fault.ErrUnavailable) {
			t.Errorf("ConfirmCode with the directory down: %v, want unavailable", err)
		}
		if tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token}); !errors.Is(err, fault.ErrUnavailable) {
			t.Errorf("VerifyToken with the directory down: %+v %v, want unavailable", tr, err)
		}
	})
}

// The directory says the caller is official (it answered before the number
// was deleted); the store, which decides in the step that creates the
// call, refuses it.
func TestStampCallIsRefusedByTheStoreWhenTheNumberWentAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stale := &staleDir{directory: e.dir, official: verify.Official{Number: e.num(outbound), DisplayName: "示例平台客服", PlacesCalls: true}}
	e.svc = e.newService(withDirectory(stale))
	e.removeOfficial(outbound)
	_, err := e.svc.StampCall(context.Background(), dialer, stampReq(outbound, aliceRaw))
	msg, _ := fault.Message(err)
	if !errors.Is(err, fault.ErrFailedPrecondition) || msg != "caller_number is not an official number that may place calls" {
		t.Fatalf("StampCall from a deleted number: %v, want FAILED_PRECONDITION with the friendly message", err)
	}
	if calls, _ := e.store.ListCallsTo(context.Background(), e.alice, e.clock.Now(), 10); len(calls) != 0 {
		t.Fatalf("a refused stamp stored %d calls", len(calls))
	}
	if evs, _, _ := e.audit.List(context.Background(), audit.Filter{Action: "call.stamp"}, 10, ""); len(evs) != 0 {
		t.Fatalf("a refused stamp was audited: %+v", evs)
	}
}

func TestAdminsListAndEndTheCallsOfALine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for range 3 {
		ids = append(ids, e.stamp(outbound, aliceRaw).Call.ID)
		e.clock.Advance(time.Second) // expiry order is stamping order
	}
	e.stamp(both, bobRaw)
	var listed []string
	token := ""
	for range 5 {
		page, next, err := e.svc.ListCalls(ctx, outbound, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			listed = append(listed, c.ID)
		}
		if token = next; token == "" {
			break
		}
	}
	if fmt.Sprint(listed) != fmt.Sprint(ids) {
		t.Fatalf("ListCalls = %v, want %v", listed, ids)
	}
	if _, _, err := e.svc.ListCalls(ctx, "not a number", 0, ""); !errors.Is(err, fault.ErrInvalidArgument) {
		t.Fatalf("ListCalls of a bad number: %v", err)
	}
	n, err := e.svc.EndCalls(ctx, admin, "0571 8888 1234")
	if err != nil || n != 3 {
		t.Fatalf("EndCalls = %d (%v), want 3", n, err)
	}
	if page, _, _ := e.svc.ListCalls(ctx, outbound, 0, ""); len(page) != 0 {
		t.Fatalf("live calls after EndCalls: %d", len(page))
	}
	res, err := e.svc.CheckCaller(ctx, e.bob, both, "")
	if err != nil || res.Verdict != verify.VerdictVerified {
		t.Fatalf("another line's call after EndCalls: %v (%v), want VERIFIED", res.Verdict, err)
	}
	evs, _, err := e.audit.List(ctx, audit.Filter{Action: "call.end_by_caller"}, 10, "")
	if err != nil || len(evs) != 1 || evs[0].Actor != admin.Subject || evs[0].Target != e.num(outbound).String() || evs[0].After["ended_calls"] != float64(3) {
		t.Fatalf("call.end_by_caller events = %+v (%v), want one by the admin saying 3", evs, err)
	}
}

func TestACodeIsUsedUpOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	first, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code)
	if err != nil || !first.Match {
		t.Fatalf("first use: %+v %v, want a match", first, err)
	}
	again, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code)
	if err != nil {
		t.Fatal(err)
	}
	wrongCode := "000000"
	if wrongCode == st.Code {
		wrongCode = "111111"
	}
	wrong, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, wrongCode)
	if err != nil {
		t.Fatal(err)
	}
	if again.Match || again.Call != nil || again.AttemptsRemaining != verify.MaxWrongAttempts-1 {
		t.Fatalf("second use: %+v, want refused and counted like a wrong code", again)
	}
	if wrong.Match || wrong.AttemptsRemaining != verify.MaxWrongAttempts-2 {
		t.Fatalf("a wrong code after: %+v", wrong)
	}
	// The next step's code matches.
	e.clock.Advance(verify.CodePeriod)
	code, _, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
	if err != nil {
		t.Fatal(err)
	}
	if next, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, code); err != nil || !next.Match {
		t.Fatalf("the next step's code: %+v %v, want a match", next, err)
	}
}

func TestConcurrentConfirmsOfOneCodeMatchOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	const workers = 4 // fewer than MaxWrongAttempts: none is refused for a lock
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		matches int
		errs    []error
	)
	start := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if cr.Match {
				matches++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 || matches != 1 {
		t.Fatalf("%d matches (errors %v), want exactly 1", matches, errs)
	}
}

func TestADialerSeesOnlyItsOwnCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	unknown := "aaaaaaaaaaaaaaaaaaaaaaaaaa"
	other := audit.Actor{Subject: "dialer-2", Role: "dialer"}
	analyst := audit.Actor{Subject: "analyst-1", Role: "analyst"}

	same := func(what string, err, errUnknown error) {
		t.Helper()
		msg, _ := fault.Message(err)
		msgUnknown, _ := fault.Message(errUnknown)
		if !errors.Is(err, fault.ErrNotFound) || msg != msgUnknown {
			t.Errorf("%s of another dialer's call: %v, want exactly the answer of an unknown call (%v)", what, err, errUnknown)
		}
	}
	_, err := e.svc.GetCall(ctx, other, st.Call.ID)
	_, errU := e.svc.GetCall(ctx, other, unknown)
	same("GetCall", err, errU)
	_, _, err = e.svc.GetConfirmationCode(ctx, other, st.Call.ID)
	_, _, errU = e.svc.GetConfirmationCode(ctx, other, unknown)
	same("GetConfirmationCode", err, errU)
	_, err = e.svc.EndCall(ctx, other, st.Call.ID)
	_, errU = e.svc.EndCall(ctx, other, unknown)
	same("EndCall", err, errU)
	if c, err := e.svc.GetCall(ctx, dialer, st.Call.ID); err != nil || c.State != verify.StateActive {
		t.Fatalf("another dialer's EndCall changed the call: %v %v", c.State, err)
	}
	for _, who := range []audit.Actor{analyst, admin} {
		if _, err := e.svc.GetCall(ctx, who, st.Call.ID); err != nil {
			t.Errorf("GetCall as %s: %v", who.Role, err)
		}
	}
	c, err := e.svc.EndCall(ctx, dialer, st.Call.ID)
	if err != nil || c.State != verify.StateEnded {
		t.Fatalf("EndCall by its own dialer: %v %v", c.State, err)
	}
	evs, _, err := e.audit.List(ctx, audit.Filter{Action: "call.end"}, 10, "")
	if err != nil || len(evs) != 1 || evs[0].Actor != dialer.Subject || evs[0].Target != st.Call.ID {
		t.Fatalf("call.end events = %+v (%v), want one by the dialer", evs, err)
	}
	stamps, _, err := e.audit.List(ctx, audit.Filter{Action: "call.stamp"}, 10, "")
	if err != nil || len(stamps) != 1 || stamps[0].After["callee"] != e.alice.Masked() || stamps[0].Actor != dialer.Subject {
		t.Fatalf("call.stamp events = %+v (%v), want one with the callee masked", stamps, err)
	}
}

// overrideDir is the real directory, but it says one number is inbound-only.
type overrideDir struct {
	*directory
	inboundOnly phone.Number
}

func (d *overrideDir) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	o, err := d.directory.OfficialNumber(ctx, n)
	if err == nil && n == d.inboundOnly {
		o.PlacesCalls, o.InboundOnly = false, true
	}
	return o, err
}

// staleDir answers with what the directory said a moment ago.
type staleDir struct {
	*directory
	official verify.Official
}

func (d *staleDir) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	if n == d.official.Number {
		return d.official, nil
	}
	return d.directory.OfficialNumber(ctx, n)
}

// genDir says that number n has generation gen, whatever the store holds.
type genDir struct {
	*directory
	n   phone.Number
	gen string
}

func (d *genDir) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	o, err := d.directory.OfficialNumber(ctx, n)
	if err == nil && n == d.n {
		o.Gen = d.gen
	}
	return o, err
}

// On this store a delete ends the line's calls in its own transaction; a
// registration made again as outbound does not bring them back.
func TestReRegisteringOutboundDoesNotReviveTheCalls(t *testing.T) {
	t.Parallel()
	eachRecordSource(t, func(t *testing.T, e *env) {
		st := e.stamp(outbound, aliceRaw)
		e.removeOfficial(outbound)
		e.addOfficial(outbound, "示例平台客服", blocklist.DirectionOutbound)
		e.verifiesNot(t, st, outbound, verify.VerdictOfficialNotCalling)
		fresh := e.stamp(outbound, aliceRaw)
		res, err := e.svc.CheckCaller(context.Background(), e.alice, outbound, "")
		if err != nil || res.Verdict != verify.VerdictVerified || res.Call.ID != fresh.Call.ID {
			t.Fatalf("a call under the new registration: %v (%v), want VERIFIED by it", res.Verdict, err)
		}
	})
}

// A call is counted only under the registration of its caller it was
// stamped under: when the directory says the line has another generation
// (a networked store deletes the line first and ends its calls in later
// steps, which may not have run), the call still stored ACTIVE verifies
// nowhere. An unknown generation (a record or a call written before
// generations existed) leaves the other checks to decide.
func TestACallVerifiesOnlyUnderItsCallersRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.stamp(outbound, aliceRaw)
	stored, err := e.store.GetCall(context.Background(), st.Call.ID)
	if err != nil || stored.Gen == "" {
		t.Fatalf("the stored call's Gen %q (%v), want its caller's generation", stored.Gen, err)
	}

	e.svc = e.newService(withDirectory(&genDir{directory: e.dir, n: e.num(outbound), gen: "another registration"}))
	e.verifiesNot(t, st, outbound, verify.VerdictOfficialNotCalling)

	e.svc = e.newService(withDirectory(&genDir{directory: e.dir, n: e.num(outbound), gen: ""}))
	res, err := e.svc.CheckCaller(context.Background(), e.alice, outbound, "")
	if err != nil || res.Verdict != verify.VerdictVerified || res.Call.ID != st.Call.ID {
		t.Fatalf("with the line's generation unknown: %v (%v), want VERIFIED", res.Verdict, err)
	}
	tr, err := e.svc.VerifyToken(context.Background(), verify.VerifyTokenRequest{Token: st.Token})
	if err != nil || !tr.Valid {
		t.Fatalf("VerifyToken with the line's generation unknown: %v (%v), want valid", tr.Failure, err)
	}
}

// A call the request may not use (another dialer's, another customer's,
// an ended one) answers like an unknown call before anything about its
// caller is read: with the directory down, the code RPCs still answer
// "unknown", VerifyToken of an ended call still says CALL_ENDED, and no
// caller's record is read for them.
func TestACallTheRequestMayNotUseAnswersBeforeItsCallerIsRead(t *testing.T) {
	t.Parallel()
	eachRecordSource(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mine := e.stamp(outbound, aliceRaw)
		ended := e.stamp(outbound, aliceRaw)
		if _, err := e.svc.EndCall(ctx, dialer, ended.Call.ID); err != nil {
			t.Fatal(err)
		}
		_, _, errUnknown := e.svc.GetConfirmationCode(ctx, dialer, "aaaaaaaaaaaaaaaaaaaaaaaaaa")
		msgUnknown, _ := fault.Message(errUnknown)
		e.dir.down.Store(true)
		e.store.callerLines.Store(0)
		other := audit.Actor{Subject: "dialer-2", Role: "dialer"}
		for name, get := range map[string]func() error{
			"another dialer's call": func() error { _, _, err := e.svc.GetConfirmationCode(ctx, other, mine.Call.ID); return err },
			"an ended call":         func() error { _, _, err := e.svc.GetConfirmationCode(ctx, dialer, ended.Call.ID); return err },
		} {
			err := get()
			if msg, _ := fault.Message(err); !errors.Is(err, fault.ErrNotFound) || msg != msgUnknown {
				t.Errorf("GetConfirmationCode of %s with the directory down: %v, want the answer of an unknown call (%v)", name, err, errUnknown)
			}
		}
		for name, id := range map[string]string{"another customer's call": mine.Call.ID, "an ended call": ended.Call.ID} {
			who := e.alice
			if id == mine.Call.ID {
				who = e.bob
			}
			if cr, err := e.svc.ConfirmCode(ctx, customer, who, id, mine.Code); err != nil || cr != (verify.ConfirmResult{}) {
				t.Errorf("ConfirmCode of %s with the directory down: %+v %v, want the answer of an unknown call", name, cr, err)
			}
		}
		if tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: ended.Token}); err != nil || tr.Failure != verify.TokenCallEnded {
			t.Errorf("VerifyToken of an ended call with the directory down: %+v %v, want CALL_ENDED", tr, err)
		}
		if n := e.store.callerLines.Load(); n != 0 {
			t.Errorf("the calls the requests may not use had their caller's record read %d times, want 0 (as an unknown call)", n)
		}
	})
}

// A hint only saves a read: a record read for a hint that is not the
// call's caller (an inbound-only line, a number that is no line, none)
// never decides whether the call verifies.
func TestAHintThatIsNotTheCallersNeverDecides(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withStoreLines)
	st := e.stamp(outbound, aliceRaw)
	for _, hint := range []phone.Number{e.num(hotlineRaw), e.num(fraudRaw), "", e.num(outbound)} {
		if _, live, err := e.svc.GetLiveCallForTest(context.Background(), st.Call.ID, hint); err != nil || !live {
			t.Errorf("a live call read with the hint %q: live %v, %v; want live", hint, live, err)
		}
	}
}
