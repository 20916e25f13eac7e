package server_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// TestReplacedKEKFailsClosedUntilTheKeyIsRotated is what docs/operations.md
// says of replacing the key-encryption key (there is no rotation): after a
// restart with a new KEK, a call stamped before never verifies and the
// signing key does not open, until an admin rotates it; then stamping and
// the JWKS work again, the old key still published.
func TestReplacedKEKFailsClosedUntilTheKeyIsRotated(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	officialNumbers(t, env)
	old := stampREST(t, env, stampBody(apiAlice))

	env.Stop()
	kek := filepath.Join(env.DataDir, "kek.key")
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	if err := os.WriteFile(kek, k, 0o600); err != nil {
		t.Fatal(err)
	}
	env.Restart()

	alice := env.Ctx(env.Customer(apiAlice))
	vs := callverifyv1.NewVerifyServiceClient(env.Conn)
	r, err := vs.CheckCaller(alice, &callverifyv1.CheckCallerRequest{CallerNumber: "0571 8888 1234"})
	if err == nil && r.GetVerdict() == callverifyv1.Verdict_VERDICT_VERIFIED {
		t.Fatal("a call stamped under the old KEK verified")
	}
	if got := status.Code(err); got != codes.Internal {
		t.Errorf("CheckCaller of the old call: %v, want INTERNAL", err)
	}
	if r := env.Do("GET", "/.well-known/jwks.json", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("JWKS before the rotation: %d %s, want 503", r.Status, r.Body)
	}
	if r := env.Do("POST", "/v1/calls", env.Dialer(), stampBody(apiBob)); r.Status == http.StatusOK {
		t.Errorf("stamped with a signing key that does not open: %s", r.Body)
	}

	if r := env.Do("POST", "/v1/signing-keys:rotate", env.Admin(), map[string]any{}); r.Status != http.StatusOK {
		t.Fatalf("rotate after the KEK was replaced: %d %s", r.Status, r.Body)
	}
	st := stampREST(t, env, stampBody(apiBob))
	if st.GetToken() == "" || st.GetConfirmationCode() == "" {
		t.Fatalf("stamp after the rotation: %+v", st)
	}
	r2 := env.Do("GET", "/.well-known/jwks.json", "", nil)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r2.Body, &jwks); r2.Status != http.StatusOK || err != nil || len(jwks.Keys) != 2 {
		t.Errorf("JWKS after the rotation: %d %s, want the new key and the old one", r2.Status, r2.Body)
	}
	if _, err := vs.ConfirmCode(alice, &callverifyv1.ConfirmCodeRequest{CallId: old.GetCall().GetCallId(), Code: old.GetConfirmationCode()}); err == nil {
		t.Error("the code of a call stamped under the old KEK was accepted")
	}
}
