package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

func requestCallbackREST(t *testing.T, env *testenv.Env, customer string, body map[string]any) *callverifyv1.CallbackRequest {
	t.Helper()
	resp := env.Do("POST", "/v1/me/callbacks", customer, body)
	if resp.Status != http.StatusOK {
		t.Fatalf("request callback: %d %s", resp.Status, resp.Body)
	}
	var r callverifyv1.CallbackRequest
	resp.Into(t, &r)
	return &r
}

// The whole callback over REST: a customer asks, dialers see the queue
// masked, one claims, the others cannot, only the claimer can stamp and
// only to the requester, and the customer's check then says VERIFIED as
// the callback asked for at 17:00 (testenv's clock, Asia/Shanghai).
func TestCallbackWalkthroughOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	alice, bob := env.Customer(apiAlice), env.Customer(apiBob)
	d1, d2 := env.Token(auth.RoleDialer, "dialer-1", ""), env.Token(auth.RoleDialer, "dialer-2", "")

	ra := requestCallbackREST(t, env, alice, map[string]any{"reason": "CALL_REASON_REFUND", "orderRef": "ORD-1", "language": "en"})
	if ra.GetState() != callverifyv1.CallbackState_CALLBACK_STATE_OPEN || ra.GetQueuePosition() != 1 ||
		ra.GetCalleeNumber() != apiAlice || ra.GetLanguage() != "en" || ra.GetOrderRef() != "ORD-1" {
		t.Fatalf("alice's request: %v", ra)
	}
	env.Clock.Advance(time.Minute)
	rb := requestCallbackREST(t, env, bob, map[string]any{"reason": "CALL_REASON_DELIVERY"})
	if rb.GetQueuePosition() != 2 || rb.GetLanguage() != "zh-CN" {
		t.Fatalf("bob's request: %v", rb)
	}

	// Dialers: oldest first, numbers masked, filter by reason.
	var list callverifyv1.ListCallbacksResponse
	resp := env.Do("GET", "/v1/callbacks", d1, nil)
	resp.Into(t, &list)
	if len(list.GetCallbacks()) != 2 || list.GetCallbacks()[0].GetRequestId() != ra.GetRequestId() ||
		list.GetCallbacks()[0].GetCalleeNumber() != "+86138****8000" || list.GetCallbacks()[0].GetCustomerId() != "" {
		t.Fatalf("ListCallbacks: %s", resp.Body)
	}
	if strings.Contains(string(resp.Body), apiAlice) || strings.Contains(string(resp.Body), apiBob) {
		t.Fatalf("ListCallbacks shows a full number: %s", resp.Body)
	}
	resp = env.Do("GET", "/v1/callbacks?reason=CALL_REASON_DELIVERY", d1, nil)
	resp.Into(t, &list)
	if len(list.GetCallbacks()) != 1 || list.GetCallbacks()[0].GetRequestId() != rb.GetRequestId() {
		t.Fatalf("ListCallbacks by reason: %s", resp.Body)
	}
	if resp := env.Do("GET", "/v1/callbacks", alice, nil); resp.Status != http.StatusForbidden {
		t.Fatalf("a customer lists the queue: %d", resp.Status)
	}

	// One claim wins; the full number goes to the claimer.
	resp = env.Do("POST", "/v1/callbacks/"+ra.GetRequestId()+":claim", d1, map[string]any{})
	var claimed callverifyv1.CallbackRequest
	resp.Into(t, &claimed)
	if resp.Status != http.StatusOK || claimed.GetCalleeNumber() != apiAlice || claimed.GetClaimedBy() != "dialer-1" ||
		claimed.GetState() != callverifyv1.CallbackState_CALLBACK_STATE_CLAIMED {
		t.Fatalf("claim: %d %s", resp.Status, resp.Body)
	}
	if resp := env.Do("POST", "/v1/callbacks/"+ra.GetRequestId()+":claim", d2, map[string]any{}); resp.Status != http.StatusBadRequest ||
		!strings.Contains(string(resp.Body), "no longer open") {
		t.Fatalf("second claim: %d %s", resp.Status, resp.Body)
	}

	// Only the claimer, only to the requester: else refused, nothing written.
	withCallback := func(callee string) map[string]any {
		b := stampBody(callee)
		b["callbackRequestId"] = ra.GetRequestId()
		return b
	}
	for name, tc := range map[string]struct {
		token string
		body  map[string]any
	}{
		"another dialer": {d2, withCallback(apiAlice)},
		"another number": {d1, withCallback(apiBob)},
	} {
		resp := env.Do("POST", "/v1/calls", tc.token, tc.body)
		if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "callback_request_id") {
			t.Fatalf("%s: %d %s", name, resp.Status, resp.Body)
		}
	}
	var mine callverifyv1.ListMyCallsResponse
	for _, who := range []string{alice, bob} {
		env.Do("GET", "/v1/me/calls", who, nil).Into(t, &mine)
		if len(mine.GetCalls()) != 0 {
			t.Fatalf("a refused stamp left a call: %v", mine.GetCalls())
		}
	}

	env.Clock.Advance(time.Minute)
	resp = env.Do("POST", "/v1/calls", d1, withCallback(apiAlice))
	if resp.Status != http.StatusOK {
		t.Fatalf("stamp the callback: %d %s", resp.Status, resp.Body)
	}
	var st callverifyv1.StampCallResponse
	resp.Into(t, &st)
	if st.GetCall().GetCallbackRequestId() != ra.GetRequestId() {
		t.Fatalf("the call does not carry its request: %v", st.GetCall())
	}
	if resp := env.Do("POST", "/v1/calls", d1, withCallback(apiAlice)); resp.Status != http.StatusBadRequest {
		t.Fatalf("a second call for the same request: %d %s", resp.Status, resp.Body)
	}

	// The customer's check and card say it is the callback asked for at 17:00.
	for lang, want := range map[string]string{"en": "This is the callback you asked for at 17:00", "zh-CN": "这是您在17:00预约的回电"} {
		var check callverifyv1.CheckCallerResponse
		env.Do("POST", "/v1/verify/caller", alice, map[string]any{"callerNumber": apiOutbound, "language": lang}).Into(t, &check)
		if check.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED || check.GetCallback().GetRequestId() != ra.GetRequestId() ||
			!strings.HasPrefix(check.GetMessage(), want) {
			t.Fatalf("check (%s): %v", lang, &check)
		}
		env.Do("GET", "/v1/me/calls?language="+lang, alice, nil).Into(t, &mine)
		if len(mine.GetCalls()) != 1 || mine.GetCalls()[0].GetCallback().GetRequestId() != ra.GetRequestId() ||
			!strings.HasPrefix(mine.GetCalls()[0].GetMessage(), want) {
			t.Fatalf("card (%s): %v", lang, &mine)
		}
	}
	var mycb callverifyv1.ListMyCallbacksResponse
	env.Do("GET", "/v1/me/callbacks", alice, nil).Into(t, &mycb)
	if len(mycb.GetCallbacks()) != 1 || mycb.GetCallbacks()[0].GetState() != callverifyv1.CallbackState_CALLBACK_STATE_CALLED ||
		mycb.GetCallbacks()[0].GetCallId() != st.GetCall().GetCallId() {
		t.Fatalf("alice's callbacks: %v", &mycb)
	}

	// Bob: never alice's request, whatever he asks.
	env.Do("GET", "/v1/me/callbacks", bob, nil).Into(t, &mycb)
	if len(mycb.GetCallbacks()) != 1 || mycb.GetCallbacks()[0].GetRequestId() != rb.GetRequestId() {
		t.Fatalf("bob's callbacks: %v", &mycb)
	}
	for _, id := range []string{ra.GetRequestId(), "aaaaaaaaaaaaaaaaaaaaaaaaaa", "x"} {
		if resp := env.Do("POST", "/v1/me/callbacks/"+id+":cancel", bob, map[string]any{}); resp.Status != http.StatusNotFound {
			t.Fatalf("bob cancels %s: %d %s", id, resp.Status, resp.Body)
		}
	}
	resp = env.Do("POST", "/v1/me/callbacks/"+rb.GetRequestId()+":cancel", bob, map[string]any{})
	var cancelled callverifyv1.CallbackRequest
	resp.Into(t, &cancelled)
	if cancelled.GetState() != callverifyv1.CallbackState_CALLBACK_STATE_CANCELLED {
		t.Fatalf("bob cancels his own: %s", resp.Body)
	}
	if resp := env.Do("POST", "/v1/me/callbacks/"+rb.GetRequestId()+":cancel", bob, map[string]any{}); resp.Status != http.StatusNotFound {
		t.Fatalf("cancel twice: %d", resp.Status)
	}

	// Every step is audited.
	var evs callverifyv1.ListAuditEventsResponse
	env.Do("GET", "/v1/audit-events?page_size=100", env.Admin(), nil).Into(t, &evs)
	got := map[string]int{}
	for _, e := range evs.GetEvents() {
		got[e.GetAction()]++
	}
	for action, n := range map[string]int{"callback.request": 2, "callback.claim": 1, "callback.call": 1, "callback.cancel": 1, "call.stamp": 1} {
		if got[action] != n {
			t.Errorf("%d %s events, want %d (all: %v)", got[action], action, n, got)
		}
	}
}

// A plain stamped call is never "your callback", even while the customer
// has a request open: only a call stamped with the request's id is.
func TestUnstampedCallIsNoCallback(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	alice := env.Customer(apiAlice)
	requestCallbackREST(t, env, alice, map[string]any{"reason": "CALL_REASON_REFUND"})
	stampREST(t, env, stampBody(apiAlice))
	var check callverifyv1.CheckCallerResponse
	env.Do("POST", "/v1/verify/caller", alice, map[string]any{"callerNumber": apiOutbound}).Into(t, &check)
	if check.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED || check.GetCallback() != nil || strings.Contains(check.GetMessage(), "回电") {
		t.Fatalf("check: %v", &check)
	}
	var mine callverifyv1.ListMyCallsResponse
	env.Do("GET", "/v1/me/calls?language=en", alice, nil).Into(t, &mine)
	if len(mine.GetCalls()) != 1 || mine.GetCalls()[0].GetCallback() != nil ||
		mine.GetCalls()[0].GetMessage() != "示例平台客服 (王小明) is calling you about your refund." {
		t.Fatalf("card: %v", &mine)
	}
}

// Sixteen dialers claim one request at once over gRPC: exactly one wins,
// the others get FAILED_PRECONDITION.
func TestClaimCallbackRaceOverGRPC(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := env.Ctx(env.Customer(apiAlice))
	r, err := callverifyv1.NewVerifyServiceClient(env.Conn).RequestCallback(ctx, &callverifyv1.RequestCallbackRequest{
		Reason: callverifyv1.CallReason_CALL_REASON_AFTER_SALES,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := callverifyv1.NewCallbackServiceClient(env.Conn)
	const n = 16
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []string
		byCode = map[codes.Code]int{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := fmt.Sprintf("dialer-%d", i)
			got, err := client.ClaimCallback(env.Ctx(env.Token(auth.RoleDialer, sub, "")), &callverifyv1.ClaimCallbackRequest{RequestId: r.GetRequestId()})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, got.GetClaimedBy())
				return
			}
			byCode[status.Code(err)]++
		}()
	}
	wg.Wait()
	if len(won) != 1 || byCode[codes.FailedPrecondition] != n-1 {
		t.Fatalf("won %v, errors by code %v; want one winner and %d FAILED_PRECONDITION", won, byCode, n-1)
	}
}

// Limits and rules of a request: at most 3 open, a sane window, a reason,
// a claim that lapses back into the queue, and expiry.
func TestCallbackRulesOverGRPC(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	vs := callverifyv1.NewVerifyServiceClient(env.Conn)
	ctx := env.Ctx(env.Customer(apiAlice))
	now := testenv.Start
	window := func(start, end time.Time) *callverifyv1.TimeWindow {
		return &callverifyv1.TimeWindow{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
	}
	for name, req := range map[string]*callverifyv1.RequestCallbackRequest{
		"no reason":           {},
		"marketing":           {Reason: callverifyv1.CallReason_CALL_REASON_MARKETING},
		"a long order_ref":    {Reason: callverifyv1.CallReason_CALL_REASON_REFUND, OrderRef: strings.Repeat("1", 65)},
		"a link in order_ref": {Reason: callverifyv1.CallReason_CALL_REASON_REFUND, OrderRef: "see evil.example.com"},
		"window backwards":    {Reason: callverifyv1.CallReason_CALL_REASON_REFUND, PreferredWindow: window(now.Add(2*time.Hour), now.Add(time.Hour))},
		"window in the past":  {Reason: callverifyv1.CallReason_CALL_REASON_REFUND, PreferredWindow: window(now.Add(-2*time.Hour), now.Add(-time.Hour))},
		"window too far":      {Reason: callverifyv1.CallReason_CALL_REASON_REFUND, PreferredWindow: window(now.Add(200*time.Hour), now.Add(201*time.Hour))},
		"a language we lack":  {Reason: callverifyv1.CallReason_CALL_REASON_REFUND, Language: "fr"},
	} {
		if _, err := vs.RequestCallback(ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
	var first *callverifyv1.CallbackRequest
	for i := range 3 {
		r, err := vs.RequestCallback(ctx, &callverifyv1.RequestCallbackRequest{
			Reason: callverifyv1.CallReason_CALL_REASON_REFUND, PreferredWindow: window(now.Add(time.Hour), now.Add(30*time.Hour)),
		})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i == 0 {
			first = r
		}
	}
	if got := first.GetExpireTime().AsTime(); !got.Equal(now.Add(30 * time.Hour)) {
		t.Fatalf("a request waits until its window ends: expires %v, want %v", got, now.Add(30*time.Hour))
	}
	if _, err := vs.RequestCallback(ctx, &callverifyv1.RequestCallbackRequest{Reason: callverifyv1.CallReason_CALL_REASON_REFUND}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a fourth open request: %v, want RESOURCE_EXHAUSTED", err)
	}

	// A claim not answered within the claim timeout (15m) goes back.
	cs := callverifyv1.NewCallbackServiceClient(env.Conn)
	d1, d2 := env.Ctx(env.Token(auth.RoleDialer, "dialer-1", "")), env.Ctx(env.Token(auth.RoleDialer, "dialer-2", ""))
	if _, err := cs.ClaimCallback(d1, &callverifyv1.ClaimCallbackRequest{RequestId: first.GetRequestId()}); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(16 * time.Minute)
	got, err := cs.ClaimCallback(d2, &callverifyv1.ClaimCallbackRequest{RequestId: first.GetRequestId()})
	if err != nil || got.GetClaimedBy() != "dialer-2" {
		t.Fatalf("claim after the first lapsed: %v %v", got, err)
	}

	// Past the window's end: EXPIRED, no longer counted, nothing to claim.
	env.Clock.Advance(30 * time.Hour)
	ctx = env.Ctx(env.Customer(apiAlice)) // the old token expired meanwhile
	mine, err := vs.ListMyCallbacks(ctx, &callverifyv1.ListMyCallbacksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mine.GetCallbacks() {
		if r.GetState() != callverifyv1.CallbackState_CALLBACK_STATE_EXPIRED {
			t.Fatalf("after the window: %v", r)
		}
	}
	if _, err := vs.RequestCallback(ctx, &callverifyv1.RequestCallbackRequest{Reason: callverifyv1.CallReason_CALL_REASON_REFUND}); err != nil {
		t.Fatalf("a request once the others expired: %v", err)
	}
}

// The sweeper records expiries (callback.expire, by the system) and
// deletes final requests past --callback-retention (callback.prune).
func TestTheServiceSweepsCallbacks(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.CallbackRetention = 24 * time.Hour })
	a := requestCallbackREST(t, env, env.Customer(apiAlice), map[string]any{"reason": "CALL_REASON_REFUND"})
	env.Clock.Advance(24*time.Hour + time.Second) // a expired (default ttl 24h), within its retention
	b := requestCallbackREST(t, env, env.Customer(apiAlice), map[string]any{"reason": "CALL_REASON_REFUND"})

	events := func(action string) []*callverifyv1.AuditEvent {
		var ae callverifyv1.ListAuditEventsResponse
		env.Do("GET", "/v1/audit-events?action="+action, env.Analyst(), nil).Into(t, &ae)
		return ae.GetEvents()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after the start's sweep", what)
			}
			time.Sleep(10 * time.Millisecond) // the sweeper's goroutine, not the clock
		}
	}
	env.Restart() // a sweep runs at start
	waitFor("a recorded as expired", func() bool { return len(events("callback.expire")) == 1 })
	e := events("callback.expire")[0]
	if e.GetRole() != "system" || e.GetAfter().GetFields()["expired_callbacks"].GetNumberValue() != 1 ||
		!strings.Contains(e.GetAfter().GetFields()["request_ids"].String(), a.GetRequestId()) {
		t.Fatalf("expire event %v", e)
	}
	var mine callverifyv1.ListMyCallbacksResponse
	env.Do("GET", "/v1/me/callbacks", env.Customer(apiAlice), nil).Into(t, &mine)
	if len(mine.GetCallbacks()) != 2 || mine.GetCallbacks()[1].GetState() != callverifyv1.CallbackState_CALLBACK_STATE_EXPIRED {
		t.Fatalf("after the first sweep: %v", &mine)
	}

	env.Clock.Advance(24*time.Hour + time.Second) // a past its retention, b expired
	env.Restart()
	waitFor("a pruned", func() bool { return len(events("callback.prune")) == 1 })
	env.Do("GET", "/v1/me/callbacks", env.Customer(apiAlice), nil).Into(t, &mine)
	if len(mine.GetCallbacks()) != 1 || mine.GetCallbacks()[0].GetRequestId() != b.GetRequestId() ||
		mine.GetCallbacks()[0].GetState() != callverifyv1.CallbackState_CALLBACK_STATE_EXPIRED {
		t.Fatalf("after the second sweep: %v", &mine)
	}
}
