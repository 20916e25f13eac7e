package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

// devSecret is the development issuer's secret of a running env.
func devSecret(t *testing.T, e *testenv.Env) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.DataDir, "dev-issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServerRefusesBearerTokensOlderThanTheMaxAge(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	// A 30-day token: its exp would let it through for a month.
	tok, err := auth.Mint(devSecret(t, e), auth.MintOptions{Subject: "alice", Role: auth.RoleAdmin, TTL: 30 * 24 * time.Hour, Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Do("GET", "/v1/official-numbers", tok, nil).Status; got != 200 {
		t.Fatalf("fresh token: HTTP %d, want 200", got)
	}
	e.Clock.Advance(24*time.Hour + auth.DefaultLeeway + time.Second)
	r := e.Do("GET", "/v1/official-numbers", tok, nil)
	if got, want := r.Status, 401; got != want {
		t.Fatalf("token issued 24h and 31s ago: HTTP %d, want %d (UNAUTHENTICATED); body %s", got, want, r.Body)
	}
	if !strings.Contains(e.Logs.String(), "token was issued 24h0m31s ago, more than the 24h0m0s allowed") {
		t.Errorf("the log does not say why the token was refused:\n%s", e.Logs)
	}
}

func TestServerRefusesBearerTokensOlderThanAConfiguredMaxAge(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, func(c *app.Config) { c.AuthMaxTokenAge = time.Hour })
	tok := e.Admin()
	e.Clock.Advance(time.Hour + auth.DefaultLeeway + time.Second)
	if got, want := e.Do("GET", "/v1/official-numbers", tok, nil).Status, 401; got != want {
		t.Fatalf("token issued 1h and 31s ago with --auth-max-token-age 1h: HTTP %d, want %d", got, want)
	}
}

func TestTokenRefusedLogLineMasksClaimValues(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	claims := jwt.MapClaims{
		"iss": auth.DevIssuer, "aud": auth.DevAudience, "sub": "+8613800138000",
		"role": "+8613800138000", "phone_number": "+8613800138000",
		"iat": e.Clock.Now().Unix(), "exp": e.Clock.Now().Add(time.Hour).Unix(),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(devSecret(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Do("GET", "/v1/official-numbers", tok, nil).Status, 401; got != want {
		t.Fatalf("token with a number for a role: HTTP %d, want %d", got, want)
	}
	logs := e.Logs.String()
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `msg="token refused"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no token refused line in the log:\n%s", logs)
	}
	if strings.Contains(line, "13800138000") {
		t.Errorf("the token refused line shows a claim value in plain:\n%s", line)
	}
	for _, want := range []string{"is not a known role", "error.phone_number=+861******8000"} {
		if !strings.Contains(line, want) {
			t.Errorf("the token refused line does not say %q:\n%s", want, line)
		}
	}
}
