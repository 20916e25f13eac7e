package main

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

// TestCallbacksLsClaimAndStamp: a dialer lists the queue (masked, by
// reason), claims a request, another dialer cannot, and the claimer stamps
// the call with --callback; the customer's check then names the callback.
func TestCallbacksLsClaimAndStamp(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	if out, err := run(t, env, env.Admin(), "official", "create", "0571-8888 1234", "--name", "客服", "--direction", "outbound"); err != nil {
		t.Fatalf("official create: %v\n%s", err, out)
	}
	alice := env.Customer("+8613800138000")
	resp := env.Do("POST", "/v1/me/callbacks", alice, map[string]any{"reason": "CALL_REASON_REFUND", "orderRef": "ORD-7"})
	if resp.Status != http.StatusOK {
		t.Fatalf("request: %d %s", resp.Status, resp.Body)
	}
	id := resp.JSON()["requestId"].(string)
	if r := env.Do("POST", "/v1/me/callbacks", env.Customer("+8613900139000"), map[string]any{"reason": "CALL_REASON_DELIVERY"}); r.Status != http.StatusOK {
		t.Fatalf("bob's request: %d %s", r.Status, r.Body)
	}

	d1, d2 := env.Token(auth.RoleDialer, "dialer-1", ""), env.Token(auth.RoleDialer, "dialer-2", "")
	out, err := run(t, env, d1, "callbacks", "ls", "--reason", "refund")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "+86138****8000") || !strings.Contains(out, "ORD-7") ||
		strings.Contains(out, "13800138000") || strings.Contains(out, "****9000") || !strings.Contains(out, "1 open requests") {
		t.Fatalf("callbacks ls --reason refund: %v\n%s", err, out)
	}
	if out, err := run(t, env, d1, "callbacks", "ls"); err != nil || !strings.Contains(out, "2 open requests") {
		t.Fatalf("callbacks ls: %v\n%s", err, out)
	}
	out, err = run(t, env, d1, "callbacks", "claim", id)
	if err != nil || !strings.Contains(out, "customer  +8613800138000") {
		t.Fatalf("callbacks claim: %v\n%s", err, out)
	}
	if _, err := run(t, env, d2, "callbacks", "claim", id); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a second claim: %v, want FailedPrecondition", err)
	}
	stamp := []string{"call", "stamp", "--callback", id, "--from", "0571-8888 1234", "--to", "+8613800138000",
		"--reason", "refund", "--agent-id", "a-7", "--agent-name", "王小明"}
	if _, err := run(t, env, d2, stamp...); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("stamp by another dialer: %v, want FailedPrecondition", err)
	}
	if out, err := run(t, env, d1, stamp...); err != nil || !strings.HasPrefix(out, "call ") {
		t.Fatalf("stamp --callback: %v\n%s", err, out)
	}
	var check callverifyv1.CheckCallerResponse
	env.Do("POST", "/v1/verify/caller", alice, map[string]any{"callerNumber": "057188881234", "language": "en"}).Into(t, &check)
	if check.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED || check.GetCallback().GetRequestId() != id ||
		!strings.HasPrefix(check.GetMessage(), "This is the callback you asked for at 17:00") {
		t.Fatalf("check: %v", &check)
	}
	if out, err := run(t, env, d1, "callbacks", "ls"); err != nil || strings.Contains(out, id) || !strings.Contains(out, "1 open requests") {
		t.Fatalf("callbacks ls after the call: %v\n%s", err, out)
	}
}
