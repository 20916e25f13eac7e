package main

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/testenv"
)

// The customer's and the admin's RPCs that had no command have one now, and
// each says what it did.
func TestCustomerAndKeyCommands(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	admin, dialer := env.Admin(), env.Dialer()
	alice := env.Customer("+8613800138000")
	mustRun := func(token string, args ...string) string {
		t.Helper()
		out, err := run(t, env, token, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// lookup is anonymous: no token at all.
	if out := mustRun("", "lookup", "+8613912345678", "--language", "en"); !strings.HasPrefix(out, "UNKNOWN  +8613912345678\n") {
		t.Errorf("lookup:\n%s", out)
	}

	out := mustRun(alice, "devices", "enroll", "--label", "my phone")
	id := regexp.MustCompile(`(?m)^device\s+(\S+)$`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "otpauth://totp/callverify:my%20phone?") || !strings.Contains(out, "█") {
		t.Fatalf("enroll printed no device id, URI or QR code:\n%s", out)
	}
	if out := mustRun(alice, "devices", "ls"); !strings.Contains(out, id[1]) || !strings.Contains(out, "my phone") {
		t.Errorf("devices ls:\n%s", out)
	}
	if out := mustRun(alice, "devices", "rm", id[1]); out != "removed device "+id[1]+"\n" {
		t.Errorf("devices rm: %q", out)
	}
	if out := mustRun(alice, "devices", "ls"); strings.Contains(out, id[1]) {
		t.Errorf("devices ls after rm:\n%s", out)
	}

	if out := mustRun(alice, "preferences"); out != "marketing calls allowed: true\n" {
		t.Errorf("preferences: %q", out)
	}
	if out := mustRun(alice, "preferences", "--marketing-calls", "refuse"); out != "marketing calls allowed: false\n" {
		t.Errorf("preferences --marketing-calls refuse: %q", out)
	}
	if out := mustRun(alice, "preferences"); out != "marketing calls allowed: false\n" {
		t.Errorf("preferences after refusing: %q", out)
	}

	mustRun(admin, "keys", "rotate") // the first key, or a second one
	before := mustRun(admin, "keys", "ls")
	rotated := mustRun(admin, "keys", "rotate")
	kid := regexp.MustCompile(`^current key (\S+) `).FindStringSubmatch(rotated)
	if kid == nil || strings.Contains(before, kid[1]) {
		t.Fatalf("keys rotate: %q (before:\n%s)", rotated, before)
	}
	after := mustRun(admin, "keys", "ls")
	if !strings.Contains(after, kid[1]) || !strings.Contains(after, "retired") || !strings.Contains(after, "current") {
		t.Errorf("keys ls after a rotation lists no current %s and retired key:\n%s", kid[1], after)
	}

	mustRun(admin, "official", "create", "+864008008888", "--name", "Customer service")
	stamped := mustRun(dialer, "call", "stamp", "--from", "+864008008888", "--to", "+8613800138000",
		"--reason", "refund", "--agent-id", "a-7", "--agent-name", "Wang")
	tok := regexp.MustCompile(`(?m)^token\s+(\S+)$`).FindStringSubmatch(stamped)
	call := regexp.MustCompile(`(?m)^call\s+(\S+)$`).FindStringSubmatch(stamped)
	if tok == nil || call == nil {
		t.Fatalf("stamp:\n%s", stamped)
	}
	if out := mustRun(alice, "token", "verify", tok[1], "--callee", "+8613800138000"); out != "valid: call "+call[1]+" is active\n" {
		t.Errorf("token verify: %q", out)
	}
	if out := mustRun(alice, "token", "verify", tok[1], "--callee", "+8613800138001"); out != "not valid: callee_mismatch\n" {
		t.Errorf("token verify for another callee: %q", out)
	}
}

// The exit code says what kind of failure it was, for scripts.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	code := func(server, token string, args ...string) int {
		t.Helper()
		root := newRootCmd()
		root.SetOut(new(strings.Builder))
		root.SetErr(new(strings.Builder))
		root.SetArgs(append([]string{"--server", server, "--token", token, "--timeout", "2s"}, args...))
		return exitCode(root.Execute())
	}
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, c := range []struct {
		name   string
		got    int
		want   int
		reason string
	}{
		{"ok", code(env.GRPCAddr, env.Admin(), "keys", "ls"), exitOK, ""},
		{"unknown flag", code(env.GRPCAddr, env.Admin(), "keys", "ls", "--nope"), exitUsage, ""},
		{"bad flag value", code(env.GRPCAddr, env.Customer("+8613800138000"), "preferences", "--marketing-calls", "maybe"), exitUsage, ""},
		{"no token", code(env.GRPCAddr, "", "keys", "ls"), exitUsage, ""},
		{"not allowed", code(env.GRPCAddr, env.Customer("+8613800138000"), "keys", "ls"), exitRefused, "PERMISSION_DENIED"},
		{"invalid argument", code(env.GRPCAddr, "", "lookup", "abc"), exitRefused, "INVALID_ARGUMENT"},
		{"not found", code(env.GRPCAddr, env.Dialer(), "call", "get", "c_nope"), exitRefused, "NOT_FOUND"},
		{"unreachable", code(closed, env.Admin(), "keys", "ls"), exitUnavailable, "UNAVAILABLE"},
	} {
		if c.got != c.want {
			t.Errorf("%s: exit %d, want %d %s", c.name, c.got, c.want, c.reason)
		}
	}
}
