package server_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

// TestDialersReachOnlyTheirOwnCallsOverGRPCAndREST: the role x RPC x
// transport matrix of the calls of one dialer. The dialer that stamped a
// call reads it, gets its code and ends it; another dialer gets NOT_FOUND
// exactly like an unknown call; analysts may read any call; admins read any
// call (its code and its end stay the dialer's, by the role table).
func TestDialersReachOnlyTheirOwnCallsOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	who := map[string]string{
		"owner":   env.Dialer(), // dialer-1 stamps every call below
		"other":   env.Token(auth.RoleDialer, "dialer-2", ""),
		"analyst": env.Analyst(),
		"admin":   env.Admin(),
	}
	const unknown = "aaaaaaaaaaaaaaaaaaaaaaaaaa"
	type rpc struct {
		name string
		call func(c clients, tok, id string) error
	}
	rpcs := []rpc{
		{"GetCall", func(c clients, tok, id string) error {
			_, err := c.calls.GetCall(env.Ctx(tok), &callverifyv1.GetCallRequest{CallId: id})
			return err
		}},
		{"GetConfirmationCode", func(c clients, tok, id string) error {
			_, err := c.calls.GetConfirmationCode(env.Ctx(tok), &callverifyv1.GetConfirmationCodeRequest{CallId: id})
			return err
		}},
		{"EndCall", func(c clients, tok, id string) error {
			_, err := c.calls.EndCall(env.Ctx(tok), &callverifyv1.EndCallRequest{CallId: id})
			return err
		}},
	}
	want := map[string]map[string]codes.Code{
		"owner":   {"GetCall": codes.OK, "GetConfirmationCode": codes.OK, "EndCall": codes.OK},
		"other":   {"GetCall": codes.NotFound, "GetConfirmationCode": codes.NotFound, "EndCall": codes.NotFound},
		"analyst": {"GetCall": codes.OK, "GetConfirmationCode": codes.PermissionDenied, "EndCall": codes.PermissionDenied},
		"admin":   {"GetCall": codes.OK, "GetConfirmationCode": codes.PermissionDenied, "EndCall": codes.PermissionDenied},
	}
	for _, transport := range []string{"grpc", "rest"} {
		conn := grpc.ClientConnInterface(env.Conn)
		if transport == "rest" {
			conn = env.REST()
		}
		c := clientsOn(conn)
		for _, r := range rpcs {
			for name, tok := range who {
				t.Run(fmt.Sprintf("%s/%s/%s", r.name, name, transport), func(t *testing.T) {
					// A fresh call each time: EndCall by its owner ends it.
					id := stampGRPC(t, env, c, apiAlice, 0).GetCall().GetCallId()
					err := r.call(c, tok, id)
					if got := status.Code(err); got != want[name][r.name] {
						t.Fatalf("%s as %s over %s: %v, want %v", r.name, name, transport, err, want[name][r.name])
					}
					if want[name][r.name] == codes.NotFound {
						errUnknown := r.call(c, tok, unknown)
						if status.Code(errUnknown) != codes.NotFound || status.Convert(err).Message() != status.Convert(errUnknown).Message() {
							t.Errorf("another dialer's call answers %v, an unknown call %v: want the same", err, errUnknown)
						}
						got, gerr := c.calls.GetCall(env.Ctx(env.Dialer()), &callverifyv1.GetCallRequest{CallId: id})
						if gerr != nil || got.GetState() != callverifyv1.CallState_CALL_STATE_ACTIVE {
							t.Errorf("after another dialer's %s the call is %v (%v), want ACTIVE", r.name, got.GetState(), gerr)
						}
					}
				})
			}
		}
	}
}

func TestAdminsListAndEndALinesCallsOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	overGRPCAndREST(t, func(t *testing.T, env *testenv.Env, c clients) {
		officialNumbers(t, env)
		a := stampGRPC(t, env, c, apiAlice, 0)
		b := stampGRPC(t, env, c, apiBob, 0)
		ended := stampGRPC(t, env, c, apiAlice, 0)
		if _, err := c.calls.EndCall(env.Ctx(env.Dialer()), &callverifyv1.EndCallRequest{CallId: ended.GetCall().GetCallId()}); err != nil {
			t.Fatal(err)
		}
		ctx := env.Ctx(env.Admin())
		if _, err := c.calls.ListCalls(env.Ctx(env.Dialer()), &callverifyv1.ListCallsRequest{CallerNumber: apiOutbound}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("ListCalls as a dialer: %v, want PERMISSION_DENIED", err)
		}
		listed := map[string]bool{}
		token := ""
		for range 5 {
			resp, err := c.calls.ListCalls(ctx, &callverifyv1.ListCallsRequest{CallerNumber: "0571-8888 1234", PageSize: 1, PageToken: token})
			if err != nil {
				t.Fatalf("ListCalls: %v", err)
			}
			for _, call := range resp.GetCalls() {
				if call.GetCallerNumber() != apiOutbound || call.GetState() != callverifyv1.CallState_CALL_STATE_ACTIVE {
					t.Errorf("listed %v", call)
				}
				listed[call.GetCallId()] = true
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if len(listed) != 2 || !listed[a.GetCall().GetCallId()] || !listed[b.GetCall().GetCallId()] {
			t.Fatalf("ListCalls listed %v, want the two live calls", listed)
		}
		res, err := c.calls.EndCalls(ctx, &callverifyv1.EndCallsRequest{CallerNumber: apiOutbound})
		if err != nil || res.GetEndedCount() != 2 {
			t.Fatalf("EndCalls = %v (%v), want 2 ended", res, err)
		}
		if got := check(t, env, c, apiAlice, apiOutbound).GetVerdict(); got != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING {
			t.Errorf("CheckCaller after EndCalls: %v", got)
		}
		if tr := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: a.GetToken()}); tr.GetValid() ||
			tr.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_CALL_ENDED {
			t.Errorf("VerifyToken after EndCalls: %v", tr)
		}
		events, err := c.bl.ListAuditEvents(ctx, &callverifyv1.ListAuditEventsRequest{Action: "call.end_by_caller"})
		if err != nil || len(events.GetEvents()) != 1 || events.GetEvents()[0].GetActor() != "admin-1" ||
			events.GetEvents()[0].GetAfter().GetFields()["ended_calls"].GetNumberValue() != 2 {
			t.Fatalf("call.end_by_caller events = %v (%v), want one by the admin saying 2", events, err)
		}
	})
}

// TestDeletingOrRedirectingAnOfficialNumberEndsItsCallsOverGRPCAndREST:
// the verdict follows the directory at the moment of asking.
func TestDeletingOrRedirectingAnOfficialNumberEndsItsCallsOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	overGRPCAndREST(t, func(t *testing.T, env *testenv.Env, c clients) {
		officialNumbers(t, env)
		st := stampGRPC(t, env, c, apiAlice, 0)
		alice := env.Ctx(env.Customer(apiAlice))
		if got := check(t, env, c, apiAlice, apiOutbound).GetVerdict(); got != callverifyv1.Verdict_VERDICT_VERIFIED {
			t.Fatalf("before: %v", got)
		}
		admin := env.Ctx(env.Admin())
		if _, err := c.admin.DeleteOfficialNumber(admin, &callverifyv1.DeleteOfficialNumberRequest{Number: apiOutbound}); err != nil {
			t.Fatal(err)
		}
		// Registered again as an inbound-only hotline.
		if _, err := c.admin.CreateOfficialNumber(admin, &callverifyv1.CreateOfficialNumberRequest{OfficialNumber: &callverifyv1.OfficialNumber{
			Number: apiOutbound, DisplayName: "示例平台热线", Direction: callverifyv1.Direction_DIRECTION_INBOUND_ONLY,
		}}); err != nil {
			t.Fatal(err)
		}
		res := check(t, env, c, apiAlice, apiOutbound)
		if res.GetVerdict() != callverifyv1.Verdict_VERDICT_SPOOFED_HOTLINE || res.GetCall() != nil || res.GetConfirmationCode() != "" {
			t.Errorf("CheckCaller after the number went inbound-only: %v", res)
		}
		mine, err := c.verify.ListMyCalls(alice, &callverifyv1.ListMyCallsRequest{})
		if err != nil || len(mine.GetCalls()) != 0 {
			t.Errorf("ListMyCalls: %v (%v), want none", mine, err)
		}
		_, err = c.calls.GetConfirmationCode(env.Ctx(env.Dialer()), &callverifyv1.GetConfirmationCodeRequest{CallId: st.GetCall().GetCallId()})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetConfirmationCode: %v, want NOT_FOUND", err)
		}
		cr, err := c.verify.ConfirmCode(alice, &callverifyv1.ConfirmCodeRequest{CallId: st.GetCall().GetCallId(), Code: st.GetConfirmationCode()})
		if err != nil || cr.GetMatch() || cr.GetAttemptsRemaining() != 0 || cr.GetCall() != nil {
			t.Errorf("ConfirmCode: %v (%v), want the answer of an unknown call", cr, err)
		}
		if tr := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: st.GetToken()}); tr.GetValid() ||
			tr.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_CALL_ENDED || tr.GetCallState() != callverifyv1.CallState_CALL_STATE_ENDED {
			t.Errorf("VerifyToken: %v, want CALL_ENDED with the call ENDED", tr)
		}
		events, err := c.bl.ListAuditEvents(admin, &callverifyv1.ListAuditEventsRequest{Action: "official_number.delete"})
		if err != nil || len(events.GetEvents()) != 1 || events.GetEvents()[0].GetAfter().GetFields()["ended_calls"].GetNumberValue() != 1 {
			t.Fatalf("official_number.delete events = %v (%v), want one saying 1 call ended", events, err)
		}
	})
}

func TestACodeMatchesOnceOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	overGRPCAndREST(t, func(t *testing.T, env *testenv.Env, c clients) {
		officialNumbers(t, env)
		st := stampGRPC(t, env, c, apiAlice, 0)
		alice := env.Ctx(env.Customer(apiAlice))
		req := &callverifyv1.ConfirmCodeRequest{CallId: st.GetCall().GetCallId(), Code: st.GetConfirmationCode()}
		first, err := c.verify.ConfirmCode(alice, req)
		if err != nil || !first.GetMatch() {
			t.Fatalf("first use: %v (%v)", first, err)
		}
		again, err := c.verify.ConfirmCode(alice, req)
		if err != nil || again.GetMatch() || again.GetCall() != nil || again.GetAttemptsRemaining() != 4 {
			t.Fatalf("second use: %v (%v), want no match, counted like a wrong code", again, err)
		}
	})
}
