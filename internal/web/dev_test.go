package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/testenv"
)

func postJSON(t *testing.T, url, ctype, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestDevTokenMintsATokenOfTheRoleAskedFor(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	if r := e.Do("GET", "/dev/token", "", nil); r.Status != 200 {
		t.Fatalf("GET /dev/token on a --dev server: HTTP %d, want 200", r.Status)
	}
	code, m := postJSON(t, e.HTTPURL+"/dev/token", "application/json", `{"role":"analyst"}`)
	if code != 200 {
		t.Fatalf("POST /dev/token analyst: HTTP %d %v", code, m)
	}
	tok, _ := m["token"].(string)
	if got, want := m["subject"], "dev-analyst"; got != want {
		t.Errorf("subject %v, want %v", got, want)
	}
	if got, want := m["expireTime"], testenv.Start.Add(8*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("expireTime %v, want %v (8h on the server's clock)", got, want)
	}
	// The token is the analyst's: it lists the blocklist, and may not
	// register official numbers (admin).
	if r := e.Do("GET", "/v1/blocklist/entries", tok, nil); r.Status != 200 {
		t.Errorf("analyst token: GET /v1/blocklist/entries HTTP %d, want 200 (%s)", r.Status, r.Body)
	}
	if r := e.Do("GET", "/v1/official-numbers", tok, nil); r.Status != 403 {
		t.Errorf("analyst token: GET /v1/official-numbers HTTP %d, want 403", r.Status)
	}

	// A customer's number is normalised into the token, whose calls are
	// then that number's.
	code, m = postJSON(t, e.HTTPURL+"/dev/token", "application/json", `{"role":"customer","phoneNumber":"138 0013 8000"}`)
	if code != 200 || m["phoneNumber"] != "+8613800138000" || m["subject"] != "dev-customer-+8613800138000" {
		t.Fatalf("POST /dev/token customer: HTTP %d %v, want 200 with +8613800138000", code, m)
	}
	if r := e.Do("GET", "/v1/me/calls", m["token"].(string), nil); r.Status != 200 {
		t.Errorf("customer token: GET /v1/me/calls HTTP %d, want 200 (%s)", r.Status, r.Body)
	}

	for _, tc := range []struct {
		name, ctype, body string
		status            int
		msg               string
	}{
		{"unknown role", "application/json", `{"role":"root"}`, 400, "role must be customer, dialer, analyst or admin"},
		{"customer without a number", "application/json", `{"role":"customer"}`, 400, "phoneNumber"},
		{"customer with no phone number", "application/json", `{"role":"customer","phoneNumber":"hello"}`, 400, "phoneNumber"},
		{"a form post", "application/x-www-form-urlencoded", `role=admin`, 415, "application/json"},
		{"not JSON", "application/json", `role=admin`, 400, "JSON object"},
		{"a long subject", "application/json", `{"role":"admin","subject":"` + strings.Repeat("a", 65) + `"}`, 400, "subject"},
	} {
		code, m := postJSON(t, e.HTTPURL+"/dev/token", tc.ctype, tc.body)
		msg, _ := m["message"].(string)
		if code != tc.status || !strings.Contains(msg, tc.msg) || m["token"] != nil {
			t.Errorf("%s: HTTP %d %v, want %d saying %q and no token", tc.name, code, m, tc.status, tc.msg)
		}
	}
}

// Without --dev the route does not exist: nobody can mint a token.
func TestDevTokenIsNotServedWithoutDev(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "idp.key")
	if err := os.WriteFile(secret, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.ParseFlags("test", []string{
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--auth-hmac-secret-file", secret, "--auth-issuer", "https://idp.example", "--auth-audience", "callverify",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, gl, hl) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	base := "http://" + hl.Addr().String()

	resp, err := http.Get(base + "/dev/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /dev/token without --dev: HTTP %d, want 404", resp.StatusCode)
	}
	code, m := postJSON(t, base+"/dev/token", "application/json", `{"role":"admin"}`)
	if code != 404 || m["token"] != nil {
		t.Errorf("POST /dev/token without --dev: HTTP %d %v, want 404 and no token", code, m)
	}
	// The pages themselves are served: they sign in with a pasted token.
	resp, err = http.Get(base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /console/ without --dev: HTTP %d, want 200", resp.StatusCode)
	}
}
