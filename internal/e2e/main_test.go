package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/secretfile"
	"github.com/callverify/callverify/internal/testbin"
	"github.com/callverify/callverify/internal/testenv"
)

// daemonBinary is the callverifyd that TestMain builds (internal/testbin);
// it is never written after that.
var daemonBinary string

func TestMain(m *testing.M) {
	dir, err := testbin.Build("./cmd/callverifyd")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	daemonBinary = filepath.Join(dir, "callverifyd")
	os.Exit(m.Run())
}

// Numbers the tests use: an official outbound line, a customer, and
// fraudsters' numbers.
const (
	officialLine = "+8695188"
	customer     = "+8613800138000"
)

// pair is one Redis and two callverifyd processes on it, sharing the data
// directory (so one development secret mints tokens for both) and the KEK.
type pair struct {
	t       *testing.T
	redis   *redistest.Server
	dataDir string
	kekFile string
	secret  []byte
	a, b    *daemon
}

// newPair starts a private redis-server with o and two callverifyd on it.
func newPair(t *testing.T, o redistest.Options) *pair {
	t.Helper()
	p := &pair{t: t, redis: redistest.NewServer(t, o)}
	root := t.TempDir()
	p.dataDir = filepath.Join(root, "data")
	path, err := auth.EnsureDevSecret(p.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if p.secret, err = auth.LoadHMACSecret(path); err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	p.kekFile = filepath.Join(root, "kek.key")
	if err := secretfile.Write(p.kekFile, kek); err != nil {
		t.Fatal(err)
	}
	p.a = p.start("A")
	p.b = p.start("B")
	return p
}

// daemon is one callverifyd process and clients of its APIs.
type daemon struct {
	name     string
	httpURL  string
	grpcAddr string
	logs     *testenv.SyncBuffer
	cmd      *exec.Cmd
	exited   chan struct{}

	verify    callverifyv1.VerifyServiceClient
	calls     callverifyv1.CallServiceClient
	blocklist callverifyv1.BlocklistServiceClient
	admin     callverifyv1.AdminServiceClient
	health    healthpb.HealthClient
}

// start runs callverifyd on the pair's Redis and waits until it is ready;
// it is stopped with SIGTERM when the test ends. The ports are picked free
// and then released, so another process may take one before the daemon
// binds it: a start that fails on a taken port is tried again on others.
func (p *pair) start(name string) *daemon {
	t := p.t
	t.Helper()
	for attempt := 1; ; attempt++ {
		d, err := p.startOnce(name)
		if err == nil {
			return d
		}
		if attempt == 3 || !strings.Contains(d.logs.String(), "address already in use") {
			t.Fatalf("callverifyd %s exited at start: %v\n%s", name, err, d.logs)
		}
		t.Logf("callverifyd %s: a port was taken before it bound it; again on others", name)
	}
}

// startOnce starts the daemon on two free ports and waits until it is
// ready; err says it exited first.
func (p *pair) startOnce(name string) (*daemon, error) {
	t := p.t
	t.Helper()
	d := &daemon{name: name, grpcAddr: testbin.FreeAddr(t), logs: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	httpAddr := testbin.FreeAddr(t)
	d.httpURL = "http://" + httpAddr
	d.cmd = exec.Command(daemonBinary, "--dev", "--data-dir", p.dataDir, "--kek-file", p.kekFile,
		"--redis-addrs", p.redis.Addr(), "--grpc-addr", d.grpcAddr, "--http-addr", httpAddr,
		"--log-level", "debug", "--shutdown-timeout", "5s")
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no CALLVERIFY_* from the environment
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	var exitedAtStart error
	eventually(t, 20*time.Second, "callverifyd "+name+" ready", func() error {
		select {
		case <-d.exited:
			exitedAtStart = fmt.Errorf("%v", d.cmd.ProcessState)
			return nil
		default:
		}
		return d.ready()
	})
	if exitedAtStart != nil {
		return d, exitedAtStart
	}
	t.Cleanup(func() { d.stop(t) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("callverifyd %s logs:\n%s", d.name, tail(d.logs.String(), 6000))
		}
	})
	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d.verify = callverifyv1.NewVerifyServiceClient(conn)
	d.calls = callverifyv1.NewCallServiceClient(conn)
	d.blocklist = callverifyv1.NewBlocklistServiceClient(conn)
	d.admin = callverifyv1.NewAdminServiceClient(conn)
	d.health = healthpb.NewHealthClient(conn)
	return d, nil
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if !d.cmd.ProcessState.Success() {
			t.Errorf("callverifyd %s exited with %v after SIGTERM", d.name, d.cmd.ProcessState)
		}
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("callverifyd %s did not stop within 20s of SIGTERM", d.name)
	}
}

// ready is nil when /readyz answers 200.
func (d *daemon) ready() error {
	resp, err := http.Get(d.httpURL + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	return nil
}

// token mints a development token of role for sub (and, for customers,
// their number).
func (p *pair) token(role auth.Role, sub, phoneNumber string) string {
	p.t.Helper()
	tok, err := auth.Mint(p.secret, auth.MintOptions{Subject: sub, Role: role, PhoneNumber: phoneNumber})
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// ctx carries a token of p.token.
func (p *pair) ctx(role auth.Role, sub, phoneNumber string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.token(role, sub, phoneNumber))
}

func (p *pair) adminCtx() context.Context    { return p.ctx(auth.RoleAdmin, "admin-1", "") }
func (p *pair) analystCtx() context.Context  { return p.ctx(auth.RoleAnalyst, "analyst-1", "") }
func (p *pair) dialerCtx() context.Context   { return p.ctx(auth.RoleDialer, "dialer-1", "") }
func (p *pair) customerCtx() context.Context { return p.ctx(auth.RoleCustomer, "customer-1", customer) }

// eventually polls cond every 10ms until it returns nil, and fails t with
// cond's last error after within. It returns how long it took.
func eventually(t testing.TB, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// official registers officialLine as an outbound official number through d.
func (p *pair) official(d *daemon) {
	p.t.Helper()
	if _, err := d.admin.CreateOfficialNumber(p.adminCtx(), &callverifyv1.CreateOfficialNumberRequest{
		OfficialNumber: &callverifyv1.OfficialNumber{Number: officialLine, DisplayName: "CS", Direction: callverifyv1.Direction_DIRECTION_OUTBOUND},
	}); err != nil {
		p.t.Fatalf("create official number on %s: %v", d.name, err)
	}
}

// stamp stamps a call from officialLine to customer through d.
func (p *pair) stamp(d *daemon) *callverifyv1.StampCallResponse {
	p.t.Helper()
	res, err := d.calls.StampCall(p.dialerCtx(), &callverifyv1.StampCallRequest{
		CallerNumber: officialLine, CalleeNumber: customer, Reason: callverifyv1.CallReason_CALL_REASON_FOLLOW_UP,
		AgentId: "agent-7", AgentName: "Wang",
	})
	if err != nil {
		p.t.Fatalf("stamp a call on %s: %v", d.name, err)
	}
	return res
}

// block creates an entry for number through d and returns its id.
func (p *pair) block(d *daemon, number string) string {
	p.t.Helper()
	e, err := d.blocklist.CreateEntry(p.analystCtx(), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
		Pattern: number, Category: callverifyv1.Category_CATEGORY_SCAM, Reason: "e2e", Confidence: 90,
	}})
	if err != nil {
		p.t.Fatalf("block %s on %s: %v", number, d.name, err)
	}
	return e.GetEntryId()
}

// blocked says whether d's blocklist matches number.
func (p *pair) blocked(d *daemon, number string) (bool, error) {
	res, err := d.blocklist.CheckNumber(p.analystCtx(), &callverifyv1.CheckNumberRequest{Number: number})
	if err != nil {
		return false, err
	}
	return res.GetBlocked(), nil
}

// verdict is CheckCaller's verdict for number on d, asked by customer.
func (p *pair) verdict(d *daemon, number string) (callverifyv1.Verdict, error) {
	res, err := d.verify.CheckCaller(p.customerCtx(), &callverifyv1.CheckCallerRequest{CallerNumber: number})
	if err != nil {
		return 0, err
	}
	return res.GetVerdict(), nil
}

// wantBlocked waits until both instances agree that number is (or is not)
// blocked, and returns how long that took.
func (p *pair) wantBlocked(number string, want bool, within time.Duration) time.Duration {
	p.t.Helper()
	return eventually(p.t, within, fmt.Sprintf("both instances say %s blocked=%v", number, want), func() error {
		var errs []error
		for _, d := range []*daemon{p.a, p.b} {
			got, err := p.blocked(d, number)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
			} else if got != want {
				errs = append(errs, fmt.Errorf("%s says blocked=%v", d.name, got))
			}
		}
		return errors.Join(errs...)
	})
}
