package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/testbin"
)

// buildBinaries returns callverifyd and callverify, built once for every
// test package of the run (internal/testbin).
func buildBinaries(t *testing.T) (server, cli string) {
	t.Helper()
	dir := testbin.For(t, "./cmd/callverifyd", "./cmd/callverify")
	return filepath.Join(dir, "callverifyd"), filepath.Join(dir, "callverify")
}

type daemon struct {
	cmd  *exec.Cmd
	http string
	logs *bytes.Buffer
}

// start runs bin on the data directory and addresses, with env (NAME=value)
// added to its environment, and waits until it is ready.
func start(t *testing.T, bin, dataDir, grpcAddr, httpAddr string, env ...string) *daemon {
	t.Helper()
	d := &daemon{http: "http://" + httpAddr, logs: &bytes.Buffer{}}
	d.cmd = exec.Command(bin)
	d.cmd.Env = append(os.Environ(),
		"CALLVERIFY_DEV=true", "CALLVERIFY_DATA_DIR="+dataDir, "CALLVERIFY_GRPC_ADDR="+grpcAddr, "CALLVERIFY_HTTP_ADDR="+httpAddr)
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(d.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			t.Fatalf("callverifyd not ready after 20s; logs:\n%s", d.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mint(t *testing.T, cli, dataDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command(cli, append([]string{"token", "mint", "--data-dir", dataDir}, args...)...).Output()
	if err != nil {
		t.Fatalf("token mint: %v", err)
	}
	tok := strings.TrimSpace(string(out))
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token mint printed %q, want a JWT and nothing else", out)
	}
	return tok
}

func do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOfficialNumbersSurviveKill9 is the acceptance run: start the
// real binary on the embedded default, create numbers with a CLI-minted
// admin token, kill -9, start again: the numbers are there.
func TestOfficialNumbersSurviveKill9(t *testing.T) {
	server, cli := buildBinaries(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	grpcAddr, httpAddr := testbin.FreeAddr(t), testbin.FreeAddr(t)
	d := start(t, server, dataDir, grpcAddr, httpAddr)
	admin := mint(t, cli, dataDir, "--role", "admin", "--sub", "alice")

	for _, n := range []string{"95188", "400-800-8888", "+86 571 8888 1234"} {
		code, body := do(t, "POST", d.http+"/v1/official-numbers", admin,
			fmt.Sprintf(`{"number":%q,"displayName":"CS","direction":"DIRECTION_OUTBOUND"}`, n))
		if code != 200 {
			t.Fatalf("create %s: %d %s", n, code, body)
		}
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()

	d = start(t, server, dataDir, grpcAddr, httpAddr)
	defer func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- d.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("callverifyd exited with %v after SIGTERM; logs:\n%s", err, d.logs)
			}
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			t.Errorf("callverifyd did not stop within 20s of SIGTERM")
		}
	}()
	code, body := do(t, "GET", d.http+"/v1/official-numbers", admin, "")
	if code != 200 {
		t.Fatalf("list after kill -9: %d %s", code, body)
	}
	var list struct {
		OfficialNumbers []struct{ Number string } `json:"officialNumbers"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if got := len(list.OfficialNumbers); got != 3 {
		t.Errorf("after kill -9 and restart %d official numbers remain, want 3: %s", got, body)
	}

	// The CLI speaks gRPC to the same server.
	cmd := exec.CommandContext(context.Background(), cli, "official", "list", "--server", grpcAddr, "--token", admin)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "+8695188") {
		t.Errorf("callverify official list: %v\n%s", err, out)
	}
}

func noEnv(string) string { return "" }

func TestBadConfigurationSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--dev", "--grpc-addr", "nonsense"}, nil, "--grpc-addr"},
		{[]string{"--dev", "--default-region", "XX"}, nil, "--default-region"},
		{[]string{"--dev", "--token-algorithm", "HS256"}, nil, "--token-algorithm"},
		{[]string{"--dev", "--shutdown-timeout", "soon"}, nil, "--shutdown-timeout"},
		{[]string{"--dev", "--lookup-burst", "10x"}, nil, `invalid argument "10x" for "--lookup-burst" flag`},
		{[]string{"--dev"}, map[string]string{"CALLVERIFY_LOOKUP_BURST": "10x"}, `invalid value "10x" of CALLVERIFY_LOOKUP_BURST`},
		{[]string{"--dev"}, map[string]string{"CALLVERIFY_REQUEST_TIMEOUT": "5"}, `invalid value "5" of CALLVERIFY_REQUEST_TIMEOUT`},
		{[]string{"--auth-jwks-file", "a", "--auth-hmac-secret-file", "b"}, nil, "set only one"},
		{[]string{"--dev", "--redis-addrs", "127.0.0.1:6379"}, nil, "--redis-addrs"},
		{nil, nil, "no identity provider"},
		{[]string{"--dev", "--auth-jwks-url", "https://idp.example/jwks.json"}, nil, "both configured"},
	} {
		err := realMain(context.Background(), tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err = %v, want it to mention %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestHelpPrintsGNUFlagsWithTypes(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := realMain(context.Background(), []string{"--help"}, noEnv, &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Usage: callverifyd [flags]", "--dev ", "--request-timeout duration", "--lookup-burst int", "--lookup-rate float"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not show %q:\n%s", want, out.String())
		}
	}
}
