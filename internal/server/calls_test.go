package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// Numbers of the API-level scenarios.
const (
	apiOutbound = "+8657188881234" // official, places calls
	apiHotline  = "95188"          // official, inbound only
	apiAlice    = "+8613800138000"
	apiBob      = "+8613900139000"
)

// officialNumbers registers the scenario's official numbers as an admin.
func officialNumbers(t *testing.T, env *testenv.Env) {
	t.Helper()
	for _, o := range []map[string]any{
		{"number": "0571-8888 1234", "displayName": "示例平台客服", "direction": "DIRECTION_OUTBOUND"},
		{"number": apiHotline, "displayName": "示例平台热线", "direction": "DIRECTION_INBOUND_ONLY"},
	} {
		if resp := env.Do("POST", "/v1/official-numbers", env.Admin(), o); resp.Status != http.StatusOK {
			t.Fatalf("create official number: %d %s", resp.Status, resp.Body)
		}
	}
}

func stampBody(callee string) map[string]any {
	return map[string]any{
		"callerNumber": "0571 8888 1234", "calleeNumber": callee, "reason": "CALL_REASON_REFUND",
		"reasonText": "您申请的退款进度回访", "orderRef": "ORD-1", "agentId": "agent-7", "agentName": "王小明",
	}
}

func stampREST(t *testing.T, env *testenv.Env, body map[string]any) *callverifyv1.StampCallResponse {
	t.Helper()
	resp := env.Do("POST", "/v1/calls", env.Dialer(), body)
	if resp.Status != http.StatusOK {
		t.Fatalf("stamp: %d %s", resp.Status, resp.Body)
	}
	var st callverifyv1.StampCallResponse
	resp.Into(t, &st)
	return &st
}

// The README walkthrough, over REST: stamp a call as a dialer, check it as
// the customer, read the code, confirm it, end it, check again.
func TestCallWalkthroughOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	alice := env.Customer(apiAlice)

	st := stampREST(t, env, stampBody("138 0013 8000"))
	c := st.GetCall()
	if len(st.GetConfirmationCode()) != 6 || st.GetToken() == "" || c.GetState() != callverifyv1.CallState_CALL_STATE_ACTIVE ||
		c.GetCallerNumber() != apiOutbound || c.GetCalleeNumber() != apiAlice || c.GetEndTime() != nil {
		t.Fatalf("stamp response: %v", st)
	}
	if got := c.GetExpireTime().AsTime().Sub(c.GetCreateTime().AsTime()); got != 600*time.Second {
		t.Errorf("default ttl %v", got)
	}

	resp := env.Do("POST", "/v1/verify/caller", alice, map[string]any{"callerNumber": "0571-88881234"})
	if resp.Status != http.StatusOK {
		t.Fatalf("check: %d %s", resp.Status, resp.Body)
	}
	var check callverifyv1.CheckCallerResponse
	resp.Into(t, &check)
	if check.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED || check.GetCall().GetAgentName() != "王小明" ||
		check.GetCall().GetReason() != callverifyv1.CallReason_CALL_REASON_REFUND || check.GetCallerNumber() != apiOutbound {
		t.Fatalf("check: %s", resp.Body)
	}
	if m := resp.JSON(); m["verdict"] != "VERDICT_VERIFIED" || m["confirmationCode"] == nil {
		t.Errorf("REST JSON uses enum names and lowerCamelCase: %s", resp.Body)
	}

	resp = env.Do("GET", "/v1/calls/"+c.GetCallId()+"/code", env.Dialer(), nil)
	var code callverifyv1.GetConfirmationCodeResponse
	resp.Into(t, &code)
	if code.GetConfirmationCode() != check.GetConfirmationCode() || code.GetConfirmationCode() != st.GetConfirmationCode() {
		t.Fatalf("agent reads %q, the customer sees %q", code.GetConfirmationCode(), check.GetConfirmationCode())
	}

	resp = env.Do("GET", "/v1/me/calls", alice, nil)
	var mine callverifyv1.ListMyCallsResponse
	resp.Into(t, &mine)
	if len(mine.GetCalls()) != 1 || mine.GetCalls()[0].GetConfirmationCode() != code.GetConfirmationCode() {
		t.Fatalf("my calls: %s", resp.Body)
	}
	if resp := env.Do("GET", "/v1/me/calls", env.Customer(apiBob), nil); !strings.Contains(string(resp.Body), `"calls":[]`) &&
		string(resp.Body) != "{}" {
		t.Errorf("bob sees alice's calls: %s", resp.Body)
	}

	resp = env.Do("POST", "/v1/me/calls/"+c.GetCallId()+":confirm", alice, map[string]any{"code": code.GetConfirmationCode()})
	var conf callverifyv1.ConfirmCodeResponse
	resp.Into(t, &conf)
	if !conf.GetMatch() || conf.GetAttemptsRemaining() != 5 || conf.GetCall().GetCallId() != c.GetCallId() {
		t.Fatalf("confirm: %d %s", resp.Status, resp.Body)
	}

	resp = env.Do("POST", "/v1/calls/"+c.GetCallId()+":end", env.Dialer(), map[string]any{})
	var ended callverifyv1.Call
	resp.Into(t, &ended)
	if ended.GetState() != callverifyv1.CallState_CALL_STATE_ENDED || ended.GetEndTime() == nil {
		t.Fatalf("end: %s", resp.Body)
	}

	resp = env.Do("POST", "/v1/verify/caller", alice, map[string]any{"callerNumber": apiOutbound, "language": "en"})
	resp.Into(t, &check)
	if check.GetVerdict() != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING || check.GetCall() != nil || check.GetConfirmationCode() != "" {
		t.Fatalf("check after the end: %s", resp.Body)
	}
	if resp := env.Do("GET", "/v1/calls/"+c.GetCallId()+"/code", env.Dialer(), nil); resp.Status != http.StatusNotFound {
		t.Errorf("code of an ended call: %d %s", resp.Status, resp.Body)
	}
	resp = env.Do("POST", "/v1/tokens:verify", alice, map[string]any{"token": st.GetToken()})
	var vt callverifyv1.VerifyTokenResponse
	resp.Into(t, &vt)
	if vt.GetValid() || vt.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_CALL_ENDED ||
		vt.GetCallState() != callverifyv1.CallState_CALL_STATE_ENDED {
		t.Fatalf("token of an ended call: %s", resp.Body)
	}
	resp = env.Do("GET", "/v1/calls/"+c.GetCallId(), env.Analyst(), nil)
	var got callverifyv1.Call
	resp.Into(t, &got)
	if got.GetState() != callverifyv1.CallState_CALL_STATE_ENDED {
		t.Errorf("analyst GetCall: %s", resp.Body)
	}
}

func TestStampCallRefusalsOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	edit := func(k string, v any) map[string]any {
		b := stampBody(apiAlice)
		b[k] = v
		return b
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"link in the reason", edit("reasonText", "点击 www.pay-refund.cn 退款"), http.StatusBadRequest, "reason_text must not contain links"},
		{"reason text too long", edit("reasonText", strings.Repeat("退", 65)), http.StatusBadRequest, "reason_text is longer than 64"},
		{"no reason", edit("reason", "CALL_REASON_UNSPECIFIED"), http.StatusBadRequest, "reason is required"},
		{"ttl too long", edit("ttlSeconds", 3601), http.StatusBadRequest, "ttl_seconds must be between 1 and 3600"},
		{"bad callee", edit("calleeNumber", "call me"), http.StatusBadRequest, "callee_number"},
		{"inbound-only hotline as caller", edit("callerNumber", apiHotline), http.StatusBadRequest, "not an official number that may place calls"},
		{"unregistered caller", edit("callerNumber", "+44 20 7946 0958"), http.StatusBadRequest, "not an official number that may place calls"},
	} {
		resp := env.Do("POST", "/v1/calls", env.Dialer(), tc.body)
		if resp.Status != tc.status || !strings.Contains(string(resp.Body), tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, resp.Status, resp.Body, tc.status, tc.msg)
		}
	}
	if resp := env.Do("POST", "/v1/calls", env.Customer(apiAlice), stampBody(apiAlice)); resp.Status != http.StatusForbidden {
		t.Errorf("a customer stamping a call: %d", resp.Status)
	}

	// Marketing to a customer who opted out.
	alice := env.Customer(apiAlice)
	resp := env.Do("PATCH", "/v1/me/preferences", alice, map[string]any{"marketingCallsAllowed": false})
	if resp.Status != http.StatusOK || resp.JSON()["marketingCallsAllowed"] != false {
		t.Fatalf("opt out: %d %s", resp.Status, resp.Body)
	}
	resp = env.Do("POST", "/v1/calls", env.Dialer(), edit("reason", "CALL_REASON_MARKETING"))
	if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "does not accept marketing calls") {
		t.Errorf("marketing to an opted-out customer: %d %s", resp.Status, resp.Body)
	}
	var errBody struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(resp.Body, &errBody)
	if errBody.Code != 9 { // FAILED_PRECONDITION
		t.Errorf("gRPC code %d, want FAILED_PRECONDITION (9)", errBody.Code)
	}
}
