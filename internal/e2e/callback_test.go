package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/redistest"
)

// callbacks is a CallbackService client of d.
func callbacks(t *testing.T, d *daemon) callverifyv1.CallbackServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return callverifyv1.NewCallbackServiceClient(conn)
}

// A verified callback across two instances on one Redis: the customer asks
// on A, dialers on A and B race to claim it (exactly one wins), the winner
// stamps on B, and A's CheckCaller (gRPC and REST) says VERIFIED as the
// callback the customer asked for.
func TestCallbackAcrossTwoInstances(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{})
	p.official(p.a)

	req, err := p.a.verify.RequestCallback(p.customerCtx(), &callverifyv1.RequestCallbackRequest{
		Reason: callverifyv1.CallReason_CALL_REASON_REFUND, OrderRef: "ORD-42", Language: "en",
	})
	if err != nil {
		t.Fatalf("request on A: %v", err)
	}
	if req.GetQueuePosition() != 1 {
		t.Fatalf("queue position %d, want 1", req.GetQueuePosition())
	}
	// B lists it, masked.
	list, err := callbacks(t, p.b).ListCallbacks(p.dialerCtx(), &callverifyv1.ListCallbacksRequest{})
	if err != nil || len(list.GetCallbacks()) != 1 || list.GetCallbacks()[0].GetCalleeNumber() != "+86138****8000" {
		t.Fatalf("B's queue: %v, %v", list, err)
	}

	// Eight dialers on each instance claim at once: exactly one wins.
	clients := []callverifyv1.CallbackServiceClient{callbacks(t, p.a), callbacks(t, p.b)}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		byCode  = map[codes.Code]int{}
	)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := fmt.Sprintf("dialer-%d", i)
			r, err := clients[i%2].ClaimCallback(p.ctx(auth.RoleDialer, sub, ""), &callverifyv1.ClaimCallbackRequest{RequestId: req.GetRequestId()})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				byCode[status.Code(err)]++
				return
			}
			if r.GetCalleeNumber() != customer {
				t.Errorf("the claimer got %q, want the full number", r.GetCalleeNumber())
			}
			winners = append(winners, sub)
		}()
	}
	wg.Wait()
	if len(winners) != 1 || byCode[codes.FailedPrecondition] != 15 {
		t.Fatalf("winners %v, errors %v; want one winner and 15 FAILED_PRECONDITION", winners, byCode)
	}
	winner := p.ctx(auth.RoleDialer, winners[0], "")

	// A loser cannot stamp it; the winner stamps on B.
	loser := "dialer-0"
	if winners[0] == loser {
		loser = "dialer-1"
	}
	stamp := &callverifyv1.StampCallRequest{
		CallerNumber: officialLine, CalleeNumber: customer, Reason: callverifyv1.CallReason_CALL_REASON_REFUND,
		AgentId: "agent-7", AgentName: "Wang", CallbackRequestId: req.GetRequestId(),
	}
	if _, err := p.a.calls.StampCall(p.ctx(auth.RoleDialer, loser, ""), stamp); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a loser stamps: %v, want FAILED_PRECONDITION", err)
	}
	st, err := p.b.calls.StampCall(winner, stamp)
	if err != nil {
		t.Fatalf("the winner stamps on B: %v", err)
	}
	if st.GetCall().GetCallbackRequestId() != req.GetRequestId() {
		t.Fatalf("the call does not carry its request: %v", st.GetCall())
	}

	// A says VERIFIED as the requested callback, over gRPC and REST.
	check, err := p.a.verify.CheckCaller(p.customerCtx(), &callverifyv1.CheckCallerRequest{CallerNumber: officialLine, Language: "en"})
	if err != nil || check.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED || check.GetCallback().GetRequestId() != req.GetRequestId() ||
		!strings.HasPrefix(check.GetMessage(), "This is the callback you asked for at ") {
		t.Fatalf("A's check: %v, %v", check, err)
	}
	hr, err := http.NewRequest("POST", p.a.httpURL+"/v1/verify/caller", strings.NewReader(`{"callerNumber":"`+officialLine+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+p.token(auth.RoleCustomer, "customer-1", customer))
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Verdict  string `json:"verdict"`
		Message  string `json:"message"`
		Callback struct {
			RequestID string `json:"requestId"`
			State     string `json:"state"`
		} `json:"callback"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Verdict != "VERDICT_VERIFIED" || body.Callback.RequestID != req.GetRequestId() || body.Callback.State != "CALLBACK_STATE_CALLED" ||
		!strings.Contains(body.Message, "预约的回电") {
		t.Fatalf("A's check over REST: %+v", body)
	}
	// And the customer's list on A says CALLED with the call.
	mine, err := p.a.verify.ListMyCallbacks(p.customerCtx(), &callverifyv1.ListMyCallbacksRequest{})
	if err != nil || len(mine.GetCallbacks()) != 1 || mine.GetCallbacks()[0].GetCallId() != st.GetCall().GetCallId() {
		t.Fatalf("A's list of the customer's callbacks: %v, %v", mine, err)
	}
}
