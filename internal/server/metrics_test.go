package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// metricValue is the value of the series of name whose labels include
// want, from the registry the server serves; it fails the test when there
// is no such series.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("%s has no series with labels %v", name, want)
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestMetricsCountWhatTheServiceAnswered: verdicts, code attempts, call
// tokens, refused bearer tokens, REST routes by pattern, callbacks waiting,
// the store's health and the build, after one of each over the real
// server; and no label anywhere holds a customer's number.
func TestMetricsCountWhatTheServiceAnswered(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	reg := env.Registry
	officialNumbers(t, env)
	st := stampREST(t, env, stampBody(apiAlice))
	alice := env.Ctx(env.Customer(apiAlice))
	vs := callverifyv1.NewVerifyServiceClient(env.Conn)

	if _, err := vs.CheckCaller(alice, &callverifyv1.CheckCallerRequest{CallerNumber: "0571 8888 1234"}); err != nil {
		t.Fatal(err)
	}
	if r := env.Do("POST", "/v1/verify/caller", env.Customer(apiAlice), map[string]any{"callerNumber": "+86 170 0000 0001"}); r.Status != http.StatusOK {
		t.Fatalf("CheckCaller over REST: %d %s", r.Status, r.Body)
	}
	if _, err := vs.LookupNumber(context.Background(), &callverifyv1.LookupNumberRequest{Number: apiHotline}); err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if st.GetConfirmationCode() == wrong {
		wrong = "111111"
	}
	// Wrong, right, right again (a used code counts as wrong), then a call
	// that does not exist (answered like a locked one).
	for _, a := range []struct{ id, code string }{
		{st.GetCall().GetCallId(), wrong}, {st.GetCall().GetCallId(), st.GetConfirmationCode()},
		{st.GetCall().GetCallId(), st.GetConfirmationCode()}, {"no-such-call", wrong},
	} {
		if _, err := vs.ConfirmCode(alice, &callverifyv1.ConfirmCodeRequest{CallId: a.id, Code: a.code}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range []string{st.GetToken(), "not.a.token"} {
		if _, err := vs.VerifyToken(alice, &callverifyv1.VerifyTokenRequest{Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vs.RequestCallback(alice, &callverifyv1.RequestCallbackRequest{Reason: callverifyv1.CallReason_CALL_REASON_AFTER_SALES}); err != nil {
		t.Fatal(err)
	}
	if r := env.Do("GET", "/v1/me/calls", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.Status)
	}
	if r := env.Do("GET", "/v1/me/calls", "e30.e30.c2ln", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a bad token: %d", r.Status)
	}
	if r := env.Do("GET", "/v1/calls/"+st.GetCall().GetCallId(), env.Dialer(), nil); r.Status != http.StatusOK {
		t.Fatalf("GetCall: %d %s", r.Status, r.Body)
	}
	if r := env.Do("GET", "/healthz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("/healthz: %d", r.Status)
	}

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"callverify_verdicts_total", map[string]string{"rpc": "CheckCaller", "verdict": "verified"}, 1},
		{"callverify_verdicts_total", map[string]string{"rpc": "CheckCaller", "verdict": "unknown"}, 1},
		{"callverify_verdicts_total", map[string]string{"rpc": "CheckCaller", "verdict": "known_fraud"}, 0},
		{"callverify_verdicts_total", map[string]string{"rpc": "LookupNumber", "verdict": "spoofed_hotline"}, 1},
		{"callverify_code_attempts_total", map[string]string{"outcome": "mismatch"}, 2},
		{"callverify_code_attempts_total", map[string]string{"outcome": "match"}, 1},
		{"callverify_code_attempts_total", map[string]string{"outcome": "no_attempts_left"}, 1},
		{"callverify_call_tokens_verified_total", map[string]string{"result": "valid"}, 1},
		{"callverify_call_tokens_verified_total", map[string]string{"result": "malformed"}, 1},
		{"callverify_call_tokens_verified_total", map[string]string{"result": "expired"}, 0},
		{"callverify_bearer_tokens_refused_total", map[string]string{"reason": "missing"}, 1},
		{"callverify_bearer_tokens_refused_total", map[string]string{"reason": "invalid"}, 1},
		{"callverify_bearer_tokens_refused_total", map[string]string{"reason": "expired"}, 0},
		{"callverify_http_requests_total", map[string]string{"route": "GET /v1/calls/{call_id}", "code": "200"}, 1},
		{"callverify_http_requests_total", map[string]string{"route": "GET /v1/me/calls", "code": "401"}, 2},
		{"callverify_http_requests_total", map[string]string{"route": "GET /healthz", "code": "200"}, 1},
		{"callverify_http_request_duration_seconds", map[string]string{"route": "POST /v1/verify/caller"}, 1},
		{"callverify_rpc_requests_total", map[string]string{"method": "/callverify.v1.VerifyService/CheckCaller", "code": "OK"}, 2},
		{"callverify_callbacks_waiting", nil, 1},
		{"callverify_store_up", nil, 1},
		{"callverify_build_info", nil, 1},
	} {
		if got := metricValue(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "138001") || strings.Contains(l.GetValue(), st.GetCall().GetCallId()) {
					t.Errorf("%s has the label %s=%q: a customer's number or a call id", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
