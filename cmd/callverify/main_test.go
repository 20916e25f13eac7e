package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// With CALLVERIFY_TEST_MAIN=1 the test binary is the CLI: main reads the
// arguments and exits as the real binary does (TestTheProcessExitsWithTheCode).
func TestMain(m *testing.M) {
	if os.Getenv("CALLVERIFY_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The process, not just exitCode, exits 2 when the server refuses, 3 when
// it cannot be reached, 1 on a usage error, and says why on stderr; the
// root's help lists the codes.
func TestTheProcessExitsWithTheCode(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String() // a port nobody listens on
	l.Close()
	cli := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "CALLVERIFY_TEST_MAIN=1", "CALLVERIFY_SERVER=", "CALLVERIFY_TOKEN=")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("run %v: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
	}
	for _, c := range []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"ok", []string{"--server", env.GRPCAddr, "--token", env.Admin(), "keys", "ls"}, 0, ""},
		{"refused", []string{"--server", env.GRPCAddr, "--token", env.Customer("+8613800138000"), "keys", "ls"}, 2, "callverify: PermissionDenied: "},
		{"unreachable", []string{"--server", closed, "--token", env.Admin(), "--timeout", "2s", "keys", "ls"}, 3, "callverify: Unavailable: "},
		{"usage", []string{"--server", env.GRPCAddr, "keys", "ls", "--nope"}, 1, "callverify: unknown flag: --nope"},
	} {
		code, _, stderr := cli(c.args...)
		if code != c.want || !strings.HasPrefix(stderr, c.wantStderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d, stderr starting %q", c.name, code, stderr, c.want, c.wantStderr)
		}
	}
	code, help, _ := cli("--help")
	if code != 0 || !strings.Contains(help, exitCodesHelp) {
		t.Errorf("callverify --help: exit %d, no exit codes in:\n%s", code, help)
	}
}

// TestEachRootKeepsItsOwnFlags: a root's persistent flags live in its own
// cli, so building another root, as a test running in parallel does, leaves
// them as they were parsed.
func TestEachRootKeepsItsOwnFlags(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	first := newRootCmd()
	if err := first.PersistentFlags().Parse([]string{"--server", env.GRPCAddr, "--token", env.Analyst(), "--json"}); err != nil {
		t.Fatal(err)
	}
	_ = newRootCmd()
	var out bytes.Buffer
	first.SetOut(&out)
	first.SetErr(&out)
	first.SetArgs([]string{"blocklist", "check", "+8613800138000"})
	if err := first.Execute(); err != nil {
		t.Fatalf("check with the first root's flags: %v\n%s", err, out.String())
	}
	// --json, parsed into the first root, still holds: the output is the
	// response as JSON, not the table.
	var res callverifyv1.CheckNumberResponse
	if err := protojson.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not a CheckNumberResponse in JSON: %v\n%s", err, out.String())
	}
	if got, want := res.GetNumber(), "+8613800138000"; got != want {
		t.Errorf("number = %q, want %q", got, want)
	}
}
