package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
	"github.com/callverify/callverify/verify"
)

// The fraud scenarios of issue 3, run over gRPC and again over REST: the
// same typed clients, once on a gRPC connection and once on testenv's
// RESTConn, which sends each call as its annotated REST request.

type clients struct {
	calls  callverifyv1.CallServiceClient
	verify callverifyv1.VerifyServiceClient
	admin  callverifyv1.AdminServiceClient
	bl     callverifyv1.BlocklistServiceClient
}

func newClients(env *testenv.Env) clients { return clientsOn(env.Conn) }

func clientsOn(conn grpc.ClientConnInterface) clients {
	return clients{
		calls:  callverifyv1.NewCallServiceClient(conn),
		verify: callverifyv1.NewVerifyServiceClient(conn),
		admin:  callverifyv1.NewAdminServiceClient(conn),
		bl:     callverifyv1.NewBlocklistServiceClient(conn),
	}
}

func stampGRPC(t *testing.T, env *testenv.Env, c clients, callee string, ttl int32) *callverifyv1.StampCallResponse {
	t.Helper()
	st, err := c.calls.StampCall(env.Ctx(env.Dialer()), &callverifyv1.StampCallRequest{
		CallerNumber: apiOutbound, CalleeNumber: callee, Reason: callverifyv1.CallReason_CALL_REASON_AFTER_SALES,
		ReasonText: "售后回访", AgentId: "agent-9", AgentName: "李四", TtlSeconds: ttl,
	})
	if err != nil {
		t.Fatalf("StampCall: %v", err)
	}
	return st
}

func check(t *testing.T, env *testenv.Env, c clients, customer, caller string) *callverifyv1.CheckCallerResponse {
	t.Helper()
	res, err := c.verify.CheckCaller(env.Ctx(env.Customer(customer)), &callverifyv1.CheckCallerRequest{CallerNumber: caller})
	if err != nil {
		t.Fatalf("CheckCaller: %v", err)
	}
	return res
}

func verifyToken(t *testing.T, env *testenv.Env, c clients, req *callverifyv1.VerifyTokenRequest) *callverifyv1.VerifyTokenResponse {
	t.Helper()
	res, err := c.verify.VerifyToken(env.Ctx(env.Customer(apiAlice)), req)
	if err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	return res
}

// overGRPCAndREST runs scenarios twice, each on a new service: with typed
// clients over gRPC, and with the same clients over REST.
func overGRPCAndREST(t *testing.T, scenarios func(*testing.T, *testenv.Env, clients)) {
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			conn := grpc.ClientConnInterface(env.Conn)
			if transport == "rest" {
				conn = env.REST()
			}
			scenarios(t, env, clientsOn(conn))
		})
	}
}

func TestFraudScenariosOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	overGRPCAndREST(t, fraudScenarios)
}

func fraudScenarios(t *testing.T, env *testenv.Env, c clients) {
	officialNumbers(t, env)

	t.Run("genuine call verifies with agent, reason and the agent's code", func(t *testing.T) {
		st := stampGRPC(t, env, c, apiAlice, 0)
		res := check(t, env, c, apiAlice, "0571 8888 1234")
		code, err := c.calls.GetConfirmationCode(env.Ctx(env.Dialer()), &callverifyv1.GetConfirmationCodeRequest{CallId: st.GetCall().GetCallId()})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED || res.GetCall().GetAgentName() != "李四" ||
			res.GetCall().GetReason() != callverifyv1.CallReason_CALL_REASON_AFTER_SALES ||
			res.GetConfirmationCode() != code.GetConfirmationCode() || res.GetCodeExpiresAt() == nil {
			t.Fatalf("CheckCaller = %v, agent code %s", res, code.GetConfirmationCode())
		}
		if len(res.GetAdvice()) == 0 || res.GetMessage() == "" {
			t.Errorf("no message or advice")
		}
		vt := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: st.GetToken(), CalleeNumber: "138 0013 8000", CallerNumber: "0571 8888 1234"})
		if !vt.GetValid() || vt.GetCallId() != st.GetCall().GetCallId() || vt.GetClaims().GetFields()["attest"].GetStringValue() != "A" ||
			vt.GetClaims().GetFields()["rcd"].GetStructValue().GetFields()["nam"].GetStringValue() != "示例平台客服" {
			t.Fatalf("VerifyToken = %v", vt)
		}

		t.Run("the same number calling another customer does not verify", func(t *testing.T) {
			if v := check(t, env, c, apiBob, apiOutbound).GetVerdict(); v != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING {
				t.Fatalf("bob: %v", v)
			}
		})
		t.Run("a token replayed against another callee fails", func(t *testing.T) {
			vt := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: st.GetToken(), CalleeNumber: apiBob})
			if vt.GetValid() || vt.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_CALLEE_MISMATCH {
				t.Fatalf("replay: %v", vt)
			}
		})
	})

	t.Run("a spoofed official outbound number with no call", func(t *testing.T) {
		if v := check(t, env, c, apiBob, "0571 8888 1234").GetVerdict(); v != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING {
			t.Fatalf("%v", v)
		}
	})

	t.Run("an inbound-only hotline as caller", func(t *testing.T) {
		res := check(t, env, c, apiAlice, apiHotline)
		if res.GetVerdict() != callverifyv1.Verdict_VERDICT_SPOOFED_HOTLINE || res.GetCallerNumber() != "+8695188" {
			t.Fatalf("%v", res)
		}
	})

	t.Run("a known fraud number", func(t *testing.T) {
		_, err := c.bl.CreateEntry(env.Ctx(env.Analyst()), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
			Pattern: "+86170*", Category: callverifyv1.Category_CATEGORY_IMPERSONATION, Reason: "impersonation wave", Confidence: 90,
		}})
		if err != nil {
			t.Fatal(err)
		}
		res := check(t, env, c, apiAlice, "+86 170 1234 5678")
		if res.GetVerdict() != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD || res.GetBlocklistCategory() != callverifyv1.Category_CATEGORY_IMPERSONATION {
			t.Fatalf("%v", res)
		}
	})

	t.Run("guessing codes locks the call after 5 tries and the 6th right code is refused", func(t *testing.T) {
		st := stampGRPC(t, env, c, apiAlice, 0)
		ctx := env.Ctx(env.Customer(apiAlice))
		wrong := "000000"
		if st.GetConfirmationCode() == wrong {
			wrong = "111111"
		}
		for i := 1; i <= 5; i++ {
			res, err := c.verify.ConfirmCode(ctx, &callverifyv1.ConfirmCodeRequest{CallId: st.GetCall().GetCallId(), Code: wrong})
			if err != nil || res.GetMatch() || res.GetAttemptsRemaining() != int32(5-i) {
				t.Fatalf("wrong code %d: %v %v", i, res, err)
			}
		}
		res, err := c.verify.ConfirmCode(ctx, &callverifyv1.ConfirmCodeRequest{CallId: st.GetCall().GetCallId(), Code: st.GetConfirmationCode()})
		if err != nil || res.GetMatch() || res.GetAttemptsRemaining() != 0 {
			t.Fatalf("6th right code: %v %v", res, err)
		}
		call, err := c.calls.GetCall(env.Ctx(env.Dialer()), &callverifyv1.GetCallRequest{CallId: st.GetCall().GetCallId()})
		if err != nil || call.GetState() != callverifyv1.CallState_CALL_STATE_LOCKED {
			t.Fatalf("call after the lock: %v %v", call.GetState(), err)
		}
		// No longer verifies; its code is gone like an unknown call's.
		_, errLocked := c.calls.GetConfirmationCode(env.Ctx(env.Dialer()), &callverifyv1.GetConfirmationCodeRequest{CallId: st.GetCall().GetCallId()})
		_, errUnknown := c.calls.GetConfirmationCode(env.Ctx(env.Dialer()), &callverifyv1.GetConfirmationCodeRequest{CallId: "aaaaaaaaaaaaaaaaaaaaaaaaaa"})
		if status.Code(errLocked) != codes.NotFound || status.Convert(errLocked).Message() != status.Convert(errUnknown).Message() {
			t.Errorf("locked %v vs unknown %v: must answer alike", errLocked, errUnknown)
		}
		events, err := c.bl.ListAuditEvents(env.Ctx(env.Analyst()), &callverifyv1.ListAuditEventsRequest{Action: "call.lock"})
		if err != nil || len(events.GetEvents()) != 1 || events.GetEvents()[0].GetTarget() != st.GetCall().GetCallId() {
			t.Errorf("call.lock audit events: %v %v", events, err)
		}
		// Someone else's call answers like an unknown one.
		other, err := c.verify.ConfirmCode(env.Ctx(env.Customer(apiBob)), &callverifyv1.ConfirmCodeRequest{CallId: st.GetCall().GetCallId(), Code: wrong})
		if err != nil || other.GetMatch() || other.GetAttemptsRemaining() != 0 {
			t.Errorf("bob confirming alice's call: %v %v", other, err)
		}
	})

	t.Run("an ended call no longer verifies and its token says CALL_ENDED", func(t *testing.T) {
		st := stampGRPC(t, env, c, apiBob, 0)
		if v := check(t, env, c, apiBob, apiOutbound).GetVerdict(); v != callverifyv1.Verdict_VERDICT_VERIFIED {
			t.Fatalf("before the end: %v", v)
		}
		ended, err := c.calls.EndCall(env.Ctx(env.Dialer()), &callverifyv1.EndCallRequest{CallId: st.GetCall().GetCallId()})
		if err != nil || ended.GetState() != callverifyv1.CallState_CALL_STATE_ENDED {
			t.Fatalf("EndCall: %v %v", ended, err)
		}
		if v := check(t, env, c, apiBob, apiOutbound).GetVerdict(); v != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING {
			t.Fatalf("after the end: %v", v)
		}
		if vt := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: st.GetToken()}); vt.GetValid() ||
			vt.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_CALL_ENDED {
			t.Fatalf("token of an ended call: %v", vt)
		}
		res, err := c.verify.ConfirmCode(env.Ctx(env.Customer(apiBob)), &callverifyv1.ConfirmCodeRequest{CallId: st.GetCall().GetCallId(), Code: st.GetConfirmationCode()})
		if err != nil || res.GetMatch() {
			t.Fatalf("confirming the code of an ended call: %v %v", res, err)
		}
	})

	t.Run("an expired call no longer verifies", func(t *testing.T) {
		st := stampGRPC(t, env, c, apiBob, 30)
		if v := check(t, env, c, apiBob, apiOutbound).GetVerdict(); v != callverifyv1.Verdict_VERDICT_VERIFIED {
			t.Fatalf("before expiry: %v", v)
		}
		env.Clock.Advance(30 * time.Second)
		if v := check(t, env, c, apiBob, apiOutbound).GetVerdict(); v != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING {
			t.Fatalf("after expiry: %v", v)
		}
		call, err := c.calls.GetCall(env.Ctx(env.Analyst()), &callverifyv1.GetCallRequest{CallId: st.GetCall().GetCallId()})
		if err != nil || call.GetState() != callverifyv1.CallState_CALL_STATE_EXPIRED {
			t.Fatalf("GetCall: %v %v", call.GetState(), err)
		}
		vt := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: st.GetToken()})
		if vt.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_EXPIRED {
			t.Fatalf("token: %v", vt.GetFailure())
		}
	})
}

func TestSigningKeysOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	overGRPCAndREST(t, signingKeyScenarios)
}

func signingKeyScenarios(t *testing.T, env *testenv.Env, c clients) {
	officialNumbers(t, env)

	old := stampGRPC(t, env, c, apiAlice, 3600)
	rotated, err := c.admin.RotateSigningKey(env.Ctx(env.Admin()), &callverifyv1.RotateSigningKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.GetState() != callverifyv1.SigningKeyState_SIGNING_KEY_STATE_CURRENT || rotated.GetAlgorithm() != "ES256" ||
		rotated.GetPublicJwk().GetFields()["kid"].GetStringValue() != rotated.GetKid() {
		t.Fatalf("rotate: %v", rotated)
	}
	if _, err := c.admin.RotateSigningKey(env.Ctx(env.Dialer()), &callverifyv1.RotateSigningKeyRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a dialer rotating keys: %v", err)
	}
	list, err := c.admin.ListSigningKeys(env.Ctx(env.Admin()), &callverifyv1.ListSigningKeysRequest{})
	if err != nil || len(list.GetSigningKeys()) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, k := range list.GetSigningKeys() {
		if k.GetKid() != rotated.GetKid() && (k.GetState() != callverifyv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED || k.GetPublishUntil() == nil) {
			t.Errorf("the previous key: %v", k)
		}
	}

	// A token signed by the retired-but-published key still verifies, and
	// so does it with a second JOSE implementation from the JWKS alone.
	env.Clock.Advance(30 * time.Minute)
	if vt := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: old.GetToken()}); !vt.GetValid() {
		t.Fatalf("retired key's token: %v", vt.GetFailure())
	}
	resp := env.Do("GET", "/.well-known/jwks.json", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", resp.Status, resp.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Body, &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("jwks: %v, %s", err, resp.Body)
	}
	fresh := stampGRPC(t, env, c, apiBob, 0)
	for _, tok := range []string{old.GetToken(), fresh.GetToken()} {
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(jws.Signatures[0].Protected.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid not in the JWKS")
		}
		if _, err := jws.Verify(&keys[0]); err != nil {
			t.Fatalf("go-jose: %v", err)
		}
	}

	// A token signed by a key that is not ours.
	parts := strings.Split(fresh.GetToken(), ".")
	var hdr, claims map[string]any
	decode := func(s string, v any) {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		_ = json.Unmarshal(b, v)
	}
	decode(parts[0], &hdr)
	decode(parts[1], &claims)
	hdr["kid"] = "an-attackers-key"
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims))
	forged.Header = hdr
	ft, err := forged.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	if vt := verifyToken(t, env, c, &callverifyv1.VerifyTokenRequest{Token: ft}); vt.GetFailure() != callverifyv1.TokenFailure_TOKEN_FAILURE_UNKNOWN_KEY || vt.GetClaims() != nil {
		t.Fatalf("unknown key: %v", vt)
	}
}

func TestLookupNumberIsAnonymousAndRevealsNoCalls(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	stampREST(t, env, stampBody(apiAlice))
	resp := env.Do("POST", "/v1/verify/number", "", map[string]any{"number": "0571 8888 1234", "language": "en"})
	if resp.Status != http.StatusOK {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	var res callverifyv1.LookupNumberResponse
	resp.Into(t, &res)
	if res.GetVerdict() != callverifyv1.Verdict_VERDICT_OFFICIAL_NOT_CALLING || !strings.Contains(res.GetMessage(), "hang up") {
		t.Fatalf("%s", resp.Body)
	}
	for _, leak := range []string{"call", "code", "agent", apiAlice} {
		if strings.Contains(strings.ToLower(string(resp.Body)), `"`+leak) {
			t.Errorf("LookupNumber leaks %q: %s", leak, resp.Body)
		}
	}
	resp = env.Do("POST", "/v1/verify/number", "", map[string]any{"number": apiHotline})
	resp.Into(t, &res)
	if res.GetVerdict() != callverifyv1.Verdict_VERDICT_SPOOFED_HOTLINE || !strings.Contains(res.GetMessage(), "挂断") {
		t.Fatalf("%s", resp.Body)
	}
	if resp := env.Do("POST", "/v1/verify/number", "", map[string]any{"number": "abc"}); resp.Status != http.StatusBadRequest ||
		!strings.Contains(string(resp.Body), "number contains letters") {
		t.Errorf("bad number: %d %s", resp.Status, resp.Body)
	}
}

func TestDevicesAndPreferencesOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	alice := env.Customer(apiAlice)
	resp := env.Do("POST", "/v1/me/devices", alice, map[string]any{"label": "my phone"})
	if resp.Status != http.StatusOK {
		t.Fatalf("enrol: %d %s", resp.Status, resp.Body)
	}
	var en callverifyv1.EnrollDeviceResponse
	resp.Into(t, &en)
	if !strings.HasPrefix(en.GetOtpauthUri(), "otpauth://totp/callverify:my%20phone?") || len(en.GetQrPng()) < 100 || en.GetDeviceId() == "" {
		t.Fatalf("enrol: %v", en.GetOtpauthUri())
	}
	stampREST(t, env, stampBody(apiAlice))
	devices := func(who string) string {
		t.Helper()
		resp := env.Do("GET", "/v1/me/devices", who, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("list devices: %d %s", resp.Status, resp.Body)
		}
		return string(resp.Body)
	}
	if got := devices(alice); !strings.Contains(got, en.GetDeviceId()) || !strings.Contains(got, `"label":"my phone"`) ||
		strings.Contains(strings.ToLower(got), "secret") {
		t.Errorf("alice's devices = %s, want her device, its label and no secret", got)
	}
	if got := devices(env.Customer(apiBob)); strings.Contains(got, en.GetDeviceId()) {
		t.Errorf("bob's devices = %s, list alice's device", got)
	}
	if resp := env.Do("DELETE", "/v1/me/devices/"+en.GetDeviceId(), env.Customer(apiBob), nil); resp.Status != http.StatusNotFound {
		t.Errorf("bob deleting alice's device: %d", resp.Status)
	}
	if resp := env.Do("DELETE", "/v1/me/devices/"+en.GetDeviceId(), alice, nil); resp.Status != http.StatusOK {
		t.Errorf("delete: %d %s", resp.Status, resp.Body)
	}
	if got := devices(alice); strings.Contains(got, en.GetDeviceId()) {
		t.Errorf("alice's devices after the delete = %s", got)
	}
	resp = env.Do("PATCH", "/v1/me/preferences", alice, map[string]any{})
	if resp.Status != http.StatusOK || resp.JSON()["marketingCallsAllowed"] != true {
		t.Errorf("preferences by default: %d %s", resp.Status, resp.Body)
	}
}

// The domain's enums are the proto's, value for value.
func TestDomainEnumsMatchTheProto(t *testing.T) {
	t.Parallel()
	for v := verify.VerdictUnspecified; v <= verify.VerdictUnknown; v++ {
		if got, want := callverifyv1.Verdict(v).String(), "VERDICT_"+v.String(); got != want {
			t.Errorf("verdict %d: proto %s, domain %s", v, got, want)
		}
	}
	for f := verify.TokenValid; f <= verify.TokenCallEnded; f++ {
		want := "TOKEN_FAILURE_" + f.String()
		if f == verify.TokenValid {
			want = "TOKEN_FAILURE_UNSPECIFIED"
		}
		if got := callverifyv1.TokenFailure(f).String(); got != want {
			t.Errorf("token failure %d: proto %s, want %s", f, got, want)
		}
	}
	for s := verify.StateUnspecified; s <= verify.StateLocked; s++ {
		if got, want := callverifyv1.CallState(s).String(), "CALL_STATE_"+s.String(); got != want {
			t.Errorf("state %d: proto %s, domain %s", s, got, want)
		}
	}
	reasons := map[verify.Reason]callverifyv1.CallReason{
		verify.ReasonFollowUp: callverifyv1.CallReason_CALL_REASON_FOLLOW_UP, verify.ReasonAfterSales: callverifyv1.CallReason_CALL_REASON_AFTER_SALES,
		verify.ReasonRefund: callverifyv1.CallReason_CALL_REASON_REFUND, verify.ReasonDelivery: callverifyv1.CallReason_CALL_REASON_DELIVERY,
		verify.ReasonAccountSecurity: callverifyv1.CallReason_CALL_REASON_ACCOUNT_SECURITY, verify.ReasonMarketing: callverifyv1.CallReason_CALL_REASON_MARKETING,
		verify.ReasonOther: callverifyv1.CallReason_CALL_REASON_OTHER,
	}
	for d, p := range reasons {
		if int32(d) != int32(p) {
			t.Errorf("reason %d vs %s", d, p)
		}
	}
	if int32(verify.KeyCurrent) != int32(callverifyv1.SigningKeyState_SIGNING_KEY_STATE_CURRENT) ||
		int32(verify.KeyRetired) != int32(callverifyv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED) {
		t.Errorf("key states differ")
	}
}
