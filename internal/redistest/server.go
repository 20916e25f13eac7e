package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/redisconn"
	"github.com/callverify/callverify/internal/testbin"
)

// How long a server may take to answer after its start, and to exit after
// SIGTERM before it is killed.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
	// startAttempts bounds the retries when another process takes a free
	// port between our check and the server's bind.
	startAttempts = 5
)

// Options configure a private server (NewServer).
type Options struct {
	// AppendOnly turns the append-only file on, with appendfsync always
	// unless AppendFsync says otherwise: a write the server acknowledged
	// survives Kill.
	AppendOnly bool
	// AppendFsync is "always", "everysec" or "no"; only with AppendOnly.
	AppendFsync string
	// Args are more redis-server arguments, e.g. "--requirepass", "secret".
	Args []string
}

// Server is one redis-server process on 127.0.0.1.
type Server struct {
	port    int
	busPort int // the cluster bus port; 0 outside a cluster
	dir     string
	args    []string // without --port and --cluster-port
	// sentinel: the server runs as a sentinel with dir/sentinel.conf.
	sentinel bool
	shared   bool

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of redis-server; err is set before exited closes.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// NewServer starts a private standalone server in a directory of t's that
// t may stop, restart and kill; it is stopped when t ends.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s, err := startServer(dir, o, plainServer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// baseArgs are the arguments of every server: loopback only, no RDB
// snapshots, AOF as asked, logs in its directory.
func baseArgs(dir string, o Options) ([]string, error) {
	args := []string{
		"--bind", "127.0.0.1", "--protected-mode", "yes", "--daemonize", "no",
		"--dir", dir, "--logfile", "redis.log", "--save", "",
	}
	switch {
	case !o.AppendOnly && o.AppendFsync != "":
		return nil, errors.New("redistest: AppendFsync without AppendOnly")
	case !o.AppendOnly:
		args = append(args, "--appendonly", "no")
	default:
		fsync := o.AppendFsync
		if fsync == "" {
			fsync = "always"
		}
		args = append(args, "--appendonly", "yes", "--appendfsync", fsync)
	}
	return append(args, o.Args...), nil
}

// serverMode is what a redis-server process is.
type serverMode int

const (
	plainServer    serverMode = iota // a standalone master or replica
	clusterServer                    // a node of a Redis Cluster
	sentinelServer                   // a sentinel reading dir/sentinel.conf
)

// sentinelConf is a sentinel's configuration file in its directory; the
// sentinel rewrites it (its id, what it learnt), so each has its own.
const sentinelConf = "sentinel.conf"

// startServer starts a server in dir on free ports, retrying with other
// ports when one was taken meanwhile.
func startServer(dir string, o Options, mode serverMode) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New(serverMissing)
	}
	args, err := baseArgs(dir, o)
	if err != nil {
		return nil, err
	}
	if mode == clusterServer {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
	}
	for attempt := 1; ; attempt++ {
		s := &Server{dir: dir, args: args, sentinel: mode == sentinelServer}
		if s.port, err = testbin.FreePort(); err != nil {
			return nil, err
		}
		if mode == clusterServer {
			if s.busPort, err = testbin.FreePort(); err != nil {
				return nil, err
			}
		}
		err = s.start()
		if err == nil {
			return s, nil
		}
		if attempt == startAttempts || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
		os.Remove(filepath.Join(dir, "redis.log"))
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir is the server's working directory (AOF, cluster config, redis.log).
func (s *Server) Dir() string { return s.dir }

// Config is a redisconn.Config that reaches this server.
func (s *Server) Config() redisconn.Config { return redisconn.Config{Addrs: []string{s.Addr()}} }

// Client returns a client of the server, closed when t ends.
func (s *Server) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	return newClient(t, s.Config())
}

func newClient(t testing.TB, c redisconn.Config) redis.UniversalClient {
	t.Helper()
	client, err := redisconn.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// Stop stops the server the way an operator would (SIGTERM: the AOF is
// flushed) and waits for it to exit. Only a private server may stop.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.refuseShared(t, "Stop")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// Kill kills the server with SIGKILL, as a crash or the OOM killer would,
// and waits for it to exit.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.refuseShared(t, "Kill")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		t.Fatal("redistest: Kill of a stopped server")
	}
	s.proc.cmd.Process.Kill()
	<-s.proc.exited
	s.proc = nil
}

// Start starts the stopped server again on the same port with the same
// directory (and so the same AOF and cluster configuration).
func (s *Server) Start(t testing.TB) {
	t.Helper()
	s.refuseShared(t, "Start")
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) refuseShared(t testing.TB, what string) {
	t.Helper()
	if s.shared {
		t.Fatalf("redistest: %s of a shared server would break the other tests; use NewServer", what)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("redistest: the server on %s is running already", s.Addr())
	}
	var args []string
	if s.sentinel {
		// The configuration file must be the first argument.
		args = []string{filepath.Join(s.dir, sentinelConf), "--sentinel"}
	}
	args = append(args, "--port", strconv.Itoa(s.port))
	args = append(args, s.args...)
	if s.busPort != 0 {
		args = append(args, "--cluster-port", strconv.Itoa(s.busPort))
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New(serverMissing)
		}
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := s.awaitReady(p); err != nil {
		cmd.Process.Kill()
		<-p.exited
		return err
	}
	s.proc = p
	return nil
}

// awaitReady waits until the server answers PING with anything but
// LOADING (a server with a password answers NOAUTH).
func (s *Server) awaitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("redistest: redis-server on %s exited (%v): %s", s.Addr(), p.err, s.logTail())
		default:
		}
		if ping(s.Addr()) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on %s did not answer within %v: %s", s.Addr(), startTimeout, s.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends one inline PING and says whether the server answered as one
// ready to serve: a server still loading its AOF answers -LOADING.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && !strings.HasPrefix(line, "-LOADING")
}

// stop sends SIGTERM, and SIGKILL if the server has not exited in time.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	p := s.proc
	s.proc = nil
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("redistest: redis-server on %s ignored SIGTERM for %v and was killed", s.Addr(), stopTimeout)
	}
	if p.err != nil {
		return fmt.Errorf("redistest: redis-server on %s exited with %v: %s", s.Addr(), p.err, s.logTail())
	}
	return nil
}

// logTail is the end of the server's log, for an error message.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// awaitClusterOK waits until the node's CLUSTER INFO says cluster_state:ok.
func (s *Server) awaitClusterOK(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true})
	defer c.Close()
	var last string
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		last = fmt.Sprint(info, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster node %s not ok: %s", s.Addr(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
