package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// The fraud scenarios of issue 3, at the domain level.

func TestGenuineStampedCallVerifiesWithAgentReasonAndTheAgentsCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	if len(st.Code) != 6 || st.Token == "" || st.Call.State != verify.StateActive {
		t.Fatalf("stamp: code %q token %d bytes state %v", st.Code, len(st.Token), st.Call.State)
	}
	if got, want := st.Call.ExpireTime.Sub(st.Call.CreateTime), verify.DefaultTTL; got != want {
		t.Errorf("default ttl = %v, want %v", got, want)
	}

	e.clock.Advance(5 * time.Second)
	res, err := e.svc.CheckCaller(ctx, e.alice, "0571 8888 1234", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictVerified || res.Call == nil {
		t.Fatalf("verdict %v, want VERIFIED with the call", res.Verdict)
	}
	if res.Call.AgentName != "王小明" || res.Call.AgentID != "agent-7" || res.Call.Reason != verify.ReasonRefund ||
		res.Call.ReasonText != "您申请的退款进度回访" || res.Call.ID != st.Call.ID {
		t.Errorf("call = %+v", res.Call)
	}
	code, until, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != code || res.Code != st.Code {
		t.Errorf("customer sees %s, agent sees %s (stamp said %s): must be the same", res.Code, code, st.Code)
	}
	if !res.CodeExpiresAt.Equal(until) || !until.After(e.clock.Now()) {
		t.Errorf("code expires at %v / %v", res.CodeExpiresAt, until)
	}
	if res.Message == "" || len(res.Advice) == 0 || res.Caller != e.num(outbound) {
		t.Errorf("message %q advice %v caller %s", res.Message, res.Advice, res.Caller.Masked())
	}

	// The customer types the code the agent said.
	cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, code)
	if err != nil {
		t.Fatal(err)
	}
	if !cr.Match || cr.AttemptsRemaining != verify.MaxWrongAttempts || cr.Call == nil {
		t.Fatalf("ConfirmCode = %+v, want a match with %d attempts left", cr, verify.MaxWrongAttempts)
	}
	tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token, CallerNumber: outbound, CalleeNumber: aliceRaw})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Valid || tr.Failure != verify.TokenValid || tr.CallID != st.Call.ID || tr.CallState != verify.StateActive {
		t.Fatalf("VerifyToken = %+v", tr)
	}
}

func TestSameNumberCallingAnotherCustomerDoesNotVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stamp(outbound, aliceRaw)
	res, err := e.svc.CheckCaller(context.Background(), e.bob, outbound, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictOfficialNotCalling || res.Call != nil || res.Code != "" {
		t.Fatalf("bob gets %v (call %v, code %q), want OFFICIAL_NOT_CALLING and nothing of alice's", res.Verdict, res.Call, res.Code)
	}
	calls, err := e.svc.ListMyCalls(context.Background(), e.bob, "")
	if err != nil || len(calls) != 0 {
		t.Fatalf("bob lists %d calls (%v), want none", len(calls), err)
	}
}

func TestSpoofedOfficialOutboundNumberWithNoActiveCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, n := range []string{outbound, both} {
		res, err := e.svc.CheckCaller(context.Background(), e.alice, n, "en")
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != verify.VerdictOfficialNotCalling {
			t.Errorf("%s: verdict %v, want OFFICIAL_NOT_CALLING", n, res.Verdict)
		}
		if !strings.Contains(res.Message, "hang up") {
			t.Errorf("message %q does not say to hang up", res.Message)
		}
	}
}

func TestInboundOnlyHotlineAsCallerIsSpoofedAndCannotBeStamped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.CheckCaller(ctx, e.alice, hotlineRaw, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictSpoofedHotline {
		t.Fatalf("verdict %v, want SPOOFED_HOTLINE", res.Verdict)
	}
	_, err = e.svc.StampCall(ctx, dialer, stampReq(hotlineRaw, aliceRaw))
	if !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Fatalf("stamping from the inbound-only hotline: %v, want FAILED_PRECONDITION", err)
	}
}

func TestKnownFraudNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := e.svc.CheckCaller(context.Background(), e.alice, fraudRaw, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictKnownFraud || res.BlocklistCategory != "CATEGORY_SCAM" {
		t.Fatalf("verdict %v category %q", res.Verdict, res.BlocklistCategory)
	}
}

func TestVerdictPrecedence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// An official outbound number with an active call to alice that is
	// then put on the blocklist (a prefix entry added later, say): the
	// call no longer verifies.
	e.stamp(outbound, aliceRaw)
	e.block(outbound, "CATEGORY_IMPERSONATION")
	e.block(hotlineRaw, "CATEGORY_IMPERSONATION")
	e.block(both, "CATEGORY_SPAM")
	tests := []struct {
		name   string
		caller string
		want   verify.Verdict
	}{
		{"the blocklist beats an active call", outbound, verify.VerdictKnownFraud},
		{"an inbound-only hotline beats the blocklist", hotlineRaw, verify.VerdictSpoofedHotline},
		{"the blocklist beats official-not-calling", both, verify.VerdictKnownFraud},
		{"unknown", "+44 20 7946 0958", verify.VerdictUnknown},
	}
	for _, tt := range tests {
		res, err := e.svc.CheckCaller(ctx, e.alice, tt.caller, "")
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, res.Verdict, tt.want)
		}
		if (res.Verdict == verify.VerdictKnownFraud) != (res.BlocklistCategory != "") {
			t.Errorf("%s: blocklist category %q with verdict %v", tt.name, res.BlocklistCategory, res.Verdict)
		}
	}
}

func TestEndedCallStopsVerifyingAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	ended, err := e.svc.EndCall(ctx, dialer, st.Call.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ended.State != verify.StateEnded || ended.EndTime.IsZero() {
		t.Fatalf("EndCall: %v at %v", ended.State, ended.EndTime)
	}
	e.assertNoLongerVerifies(t, st, verify.StateEnded, verify.TokenCallEnded)
}

func TestExpiredCallStopsVerifyingWithNoSweeper(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	req := stampReq(outbound, aliceRaw)
	req.TTLSeconds = 60
	st, err := e.svc.StampCall(ctx, dialer, req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(59 * time.Second)
	if res, _ := e.svc.CheckCaller(ctx, e.alice, outbound, ""); res.Verdict != verify.VerdictVerified {
		t.Fatalf("one second before expiry: %v", res.Verdict)
	}
	e.clock.Advance(time.Second)
	e.assertNoLongerVerifies(t, st, verify.StateExpired, verify.TokenExpired)
	// Ending an expired call changes nothing.
	c, err := e.svc.EndCall(ctx, dialer, st.Call.ID)
	if err != nil || c.State != verify.StateExpired {
		t.Fatalf("EndCall of an expired call: %v %v", c.State, err)
	}
}

func TestGuessingCodesLocksTheCallAndTheSixthRightCodeIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	wrong := "000000"
	if st.Code == wrong {
		wrong = "111111"
	}
	for i := 1; i <= verify.MaxWrongAttempts; i++ {
		cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, wrong)
		if err != nil {
			t.Fatal(err)
		}
		if cr.Match || cr.AttemptsRemaining != verify.MaxWrongAttempts-i || cr.Call != nil {
			t.Fatalf("wrong code %d: %+v, want no match and %d left", i, cr, verify.MaxWrongAttempts-i)
		}
	}
	code, _, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
	if !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("GetConfirmationCode of a locked call: %q %v", code, err)
	}
	cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Match || cr.AttemptsRemaining != 0 {
		t.Fatalf("the 6th (right) code: %+v, want refused", cr)
	}
	events, _, err := e.audit.List(ctx, audit.Filter{Action: "call.lock"}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Target != st.Call.ID || events[0].Actor != customer.Subject {
		t.Fatalf("call.lock events = %+v, want exactly one for the call", events)
	}
	if s := events[0].After["callee"]; s == e.alice.String() {
		t.Errorf("the audit event holds the unmasked number")
	}
	e.assertNoLongerVerifies(t, st, verify.StateLocked, verify.TokenCallEnded)
}

// assertNoLongerVerifies checks every way a call could still be taken for
// genuine once it is not active.
func (e *env) assertNoLongerVerifies(t *testing.T, st verify.Stamped, state verify.State, failure verify.TokenFailure) {
	t.Helper()
	ctx := context.Background()
	res, err := e.svc.CheckCaller(ctx, e.alice, outbound, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictOfficialNotCalling || res.Call != nil || res.Code != "" {
		t.Errorf("CheckCaller: %v, want OFFICIAL_NOT_CALLING and no call or code", res.Verdict)
	}
	c, err := e.svc.GetCall(ctx, dialer, st.Call.ID)
	if err != nil || c.State != state {
		t.Errorf("GetCall: %v %v, want %v", c.State, err, state)
	}
	_, _, err = e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
	_, _, errUnknown := e.svc.GetConfirmationCode(ctx, dialer, "aaaaaaaaaaaaaaaaaaaaaaaaaa")
	msg, _ := fault.Message(err)
	msgUnknown, _ := fault.Message(errUnknown)
	if !errors.Is(err, fault.ErrNotFound) || msg != msgUnknown {
		t.Errorf("GetConfirmationCode: %v, want the same answer as an unknown call (%v)", err, errUnknown)
	}
	calls, err := e.svc.ListMyCalls(ctx, e.alice, "")
	if err != nil || len(calls) != 0 {
		t.Errorf("ListMyCalls: %d calls, %v", len(calls), err)
	}
	cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code)
	if err != nil || cr.Match || cr.AttemptsRemaining != 0 {
		t.Errorf("ConfirmCode: %+v %v, want refused", cr, err)
	}
	tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Valid || tr.Failure != failure {
		t.Errorf("VerifyToken: valid %v failure %v, want %v", tr.Valid, tr.Failure, failure)
	}
}

func TestTokenReplayedAgainstAnotherCalleeFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.stamp(outbound, aliceRaw)
	tr, err := e.svc.VerifyToken(context.Background(), verify.VerifyTokenRequest{Token: st.Token, CalleeNumber: bobRaw})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Valid || tr.Failure != verify.TokenCalleeMismatch {
		t.Fatalf("replayed to bob: %v %v, want CALLEE_MISMATCH", tr.Valid, tr.Failure)
	}
	tr, err = e.svc.VerifyToken(context.Background(), verify.VerifyTokenRequest{Token: st.Token, CallerNumber: both})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Valid || tr.Failure != verify.TokenCallerMismatch {
		t.Fatalf("from another caller: %v %v, want CALLER_MISMATCH", tr.Valid, tr.Failure)
	}
}

func TestRetiredButPublishedKeyStillVerifiesUntilItsTokensExpire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	req := stampReq(outbound, aliceRaw)
	req.TTLSeconds = 3600
	old, err := e.svc.StampCall(ctx, dialer, req)
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.svc.RotateSigningKey(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	fresh := e.stamp(outbound, bobRaw)
	if kidOf(t, fresh.Token) != k.ID || kidOf(t, old.Token) == k.ID {
		t.Fatalf("after rotation the new key must sign and the old token keep its kid")
	}
	e.clock.Advance(59 * time.Minute)
	tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: old.Token})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Valid {
		t.Fatalf("token of the retired key, 59 min after rotation: %v", tr.Failure)
	}
	jwks := e.jwks(ctx)
	if len(jwks.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want the current and the retired one", len(jwks.Keys))
	}
	e.clock.Advance(time.Minute)
	if tr, _ := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: old.Token}); tr.Failure != verify.TokenExpired {
		t.Fatalf("at its exp: %v, want EXPIRED", tr.Failure)
	}
	e.clock.Advance(verify.DefaultKeyCacheTTL + verify.IatSkew)
	if got := e.jwks(ctx); len(got.Keys) != 1 || got.Keys[0].KeyID != k.ID {
		t.Fatalf("after every token it signed expired, the retired key is still published: %d keys", len(got.Keys))
	}
	if tr, _ := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: old.Token}); tr.Failure != verify.TokenUnknownKey {
		t.Fatalf("token of an unpublished key: %v, want UNKNOWN_KEY", tr.Failure)
	}
	keys, err := e.svc.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].State != verify.KeyCurrent || keys[1].State != verify.KeyRetired {
		t.Fatalf("ListSigningKeys = %+v, %v", keys, err)
	}
	events, _, err := e.audit.List(ctx, audit.Filter{Action: "signing_key.rotate"}, 10, "")
	if err != nil || len(events) != 1 || events[0].Target != k.ID || events[0].Actor != admin.Subject {
		t.Fatalf("rotate audit events = %+v, %v", events, err)
	}
}

func TestStoreOrDirectoryDownNeverBecomesAVerdict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	for _, down := range []func(bool){e.store.down.Store, e.dir.down.Store} {
		down(true)
		for _, caller := range []string{outbound, hotlineRaw, fraudRaw, "+44 20 7946 0958"} {
			res, err := e.svc.CheckCaller(ctx, e.alice, caller, "")
			if err == nil && res.Verdict == verify.VerdictVerified && caller == outbound && e.dir.down.Load() {
				continue // the store knows the active call: the directory is not asked
			}
			// With only the call store down, a number memory knows cannot
			// verify (a hotline, blocked) is answered from the directory's
			// memory: its verdict needs no call. A live official number's
			// needs the calls, and so does an unknown number's (memory may
			// not have a line registered a moment ago): it fails.
			if e.store.down.Load() && (caller == hotlineRaw || caller == fraudRaw) {
				if err != nil || res.Verdict == verify.VerdictVerified || res.Verdict == verify.VerdictUnspecified {
					t.Errorf("CheckCaller %s with the call store down: verdict %v, err %v; want its verdict from memory", caller, res.Verdict, err)
				}
			} else if !errors.Is(err, fault.ErrUnavailable) {
				t.Errorf("CheckCaller %s while down: verdict %v, err %v; want UNAVAILABLE", caller, res.Verdict, err)
			}
			// LookupNumber asks only the directory: down, it must fail;
			// with only the call store down, it answers (never VERIFIED).
			lr, err := e.svc.LookupNumber(ctx, caller, "")
			if e.dir.down.Load() {
				if !errors.Is(err, fault.ErrUnavailable) {
					t.Errorf("LookupNumber %s with the directory down: verdict %v, err %v; want UNAVAILABLE", caller, lr.Verdict, err)
				}
			} else if err != nil || lr.Verdict == verify.VerdictVerified || lr.Verdict == verify.VerdictUnspecified {
				t.Errorf("LookupNumber %s with the call store down: verdict %v, err %v; want a verdict", caller, lr.Verdict, err)
			}
		}
		down(false)
	}
	e.store.down.Store(true)
	e.clock.Advance(time.Minute) // past the key cache too
	if _, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token}); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("VerifyToken while the store is down: %v", err)
	}
	if _, err := e.svc.ListMyCalls(ctx, e.alice, ""); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("ListMyCalls while the store is down: %v", err)
	}
	if _, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, st.Code); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("ConfirmCode while the store is down: %v", err)
	}
}

// TestManyEndedCallsDoNotHideALiveOne: ended calls to a customer do not
// count against the window of calls the check looks at.
func TestManyEndedCallsDoNotHideALiveOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	live := e.stamp(outbound, aliceRaw)
	for range 150 {
		st := e.stamp(outbound, aliceRaw)
		if _, err := e.svc.EndCall(ctx, dialer, st.Call.ID); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.svc.CheckCaller(ctx, e.alice, "0571 8888 1234", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.VerdictVerified || res.Call == nil || res.Call.ID != live.Call.ID {
		t.Fatalf("verdict %v call %v, want VERIFIED with the live call", res.Verdict, res.Call)
	}
	mine, err := e.svc.ListMyCalls(ctx, e.alice, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].Call.ID != live.Call.ID {
		t.Errorf("ListMyCalls has %d calls, want just the live one", len(mine))
	}
}
