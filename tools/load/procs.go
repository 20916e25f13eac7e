package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// harness holds what every backend's runs share: the built binaries, the
// baseline process and a temporary directory removed at the end.
type harness struct {
	o      options
	log    io.Writer
	tmp    string
	daemon string // callverifyd
	cli    string // callverify
	gen    string // scripts/genblocklist

	baseline *proc
	baseGRPC string
	baseHTTP string

	closers []func()
}

// tailBuffer keeps the last bytes a process wrote, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 16<<10 {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-8<<10:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// proc is a child process the harness started.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
}

func startProc(name string, path string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(path, args...), out: &tailBuffer{}, exited: make(chan struct{})}
	// Nothing from the caller's environment (no CALLVERIFY_*) but PATH.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = orphanless()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// orphanless makes the kernel send SIGTERM to a child when the harness
// dies however it dies (a panic, SIGKILL), so that no server outlives it.
func orphanless() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// stop sends SIGTERM and waits; after 30s it kills.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// waitFor polls cond every 10ms until it returns nil, p exits or within
// passes.
func (p *proc) waitFor(ctx context.Context, within time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before %s: %v\n%s", p.name, what, p.cmd.ProcessState, p.out)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not %s within %v: %v\n%s", p.name, what, within, err, p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newHarness(ctx context.Context, o options, log io.Writer) (h *harness, err error) {
	h = &harness{o: o, log: log}
	if h.tmp, err = os.MkdirTemp("", "callverify-load-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	h.logf("building callverifyd, callverify and genblocklist from %s", o.repo)
	bins := make([]string, 3)
	for i, pkg := range []string{"./cmd/callverifyd", "./cmd/callverify", "./scripts/genblocklist"} {
		if bins[i], err = cachedBinary(ctx, o.repo, pkg); err != nil {
			return nil, err
		}
	}
	h.daemon, h.cli, h.gen = bins[0], bins[1], bins[2]

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	h.baseGRPC, h.baseHTTP = freeAddr(), freeAddr()
	if h.baseline, err = startProc("baseline", self, baselineCmd, "-grpc-addr", h.baseGRPC, "-http-addr", h.baseHTTP); err != nil {
		return nil, err
	}
	h.closers = append(h.closers, func() { h.baseline.stop() })
	if err := h.baseline.waitFor(ctx, 10*time.Second, "listening", func() error { return httpOK("http://" + h.baseHTTP + "/") }); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *harness) close() {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i]()
	}
	h.closers = nil
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "load: "+format+"\n", args...)
}

func (h *harness) vlogf(format string, args ...any) {
	if h.o.verbose {
		h.logf(format, args...)
	}
}

// freeAddr is a loopback address no one listens on right now, below the
// kernel's ephemeral range (32768 and up by default): the kernel takes the
// local port of every outgoing connection from that range, and while
// make test runs this harness beside the other tests, one of those could
// take a port from it before the process the harness starts binds it.
func freeAddr() string {
	const first, ephemeral = 10000, 32768
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(first+mrand.IntN(ephemeral-first)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	panic("no free loopback port below 32768 in 100 tries") // nothing here can work
}

func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// redisServer starts a redis-server on a free loopback port, its append-only
// file fsynced on every write (README, "Many instances on Redis"), in a
// directory of its own.
func (h *harness) redisServer(ctx context.Context) (string, *proc, error) {
	dir, err := os.MkdirTemp(h.tmp, "redis-")
	if err != nil {
		return "", nil, err
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	p, err := startProc("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no")
	if err != nil {
		return "", nil, fmt.Errorf("%w (install redis-server: apt-get install redis-server)", err)
	}
	h.closers = append(h.closers, func() { p.stop() })
	err = p.waitFor(ctx, 10*time.Second, "answering PING", func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if line != "+PONG\r\n" {
			return fmt.Errorf("PING: %q", line)
		}
		return nil
	})
	return addr, p, err
}

// server is one callverifyd process and what the harness needs to reach it.
type server struct {
	h        *harness
	backend  string
	dataDir  string
	args     []string
	grpcAddr string
	httpAddr string
	p        *proc
	// store is the redis-server the server uses, whose CPU the hot RPCs'
	// runs measure too; nil on the embedded store.
	store  *proc
	tokens map[principal]string
}

// startServer starts callverifyd on a fresh data directory: the embedded
// store, or the Redis at redisAddr under keyPrefix.
func (h *harness) startServer(ctx context.Context, backend, redisAddr, keyPrefix string) (*server, error) {
	dir, err := os.MkdirTemp(h.tmp, backend+"-")
	if err != nil {
		return nil, err
	}
	s := &server{h: h, backend: backend, dataDir: filepath.Join(dir, "data"), tokens: map[principal]string{}}
	s.grpcAddr, s.httpAddr = freeAddr(), freeAddr()
	// The anonymous lookup is rate-limited per client and per instance:
	// the limits are lifted so that the run measures the lookup itself.
	s.args = []string{"--dev", "--data-dir", s.dataDir, "--grpc-addr", s.grpcAddr, "--http-addr", s.httpAddr,
		"--log-level", "warn", "--lookup-rate", "1e9", "--lookup-burst", "1000000000",
		"--lookup-global-rate", "1e9", "--lookup-global-burst", "1000000000"}
	if backend == "redis" {
		kek := make([]byte, 32)
		rand.Read(kek)
		kekFile := filepath.Join(dir, "kek.key")
		if err := os.WriteFile(kekFile, kek, 0o600); err != nil {
			return nil, err
		}
		s.args = append(s.args, "--redis-addrs", redisAddr, "--redis-key-prefix", keyPrefix, "--kek-file", kekFile)
	}
	if _, err := s.start(ctx); err != nil {
		return nil, err
	}
	h.closers = append(h.closers, func() { s.p.stop() })
	return s, nil
}

// start runs the process and returns how long it took from start until
// /readyz answered 200.
func (s *server) start(ctx context.Context) (time.Duration, error) {
	p, err := startProc("callverifyd ("+s.backend+")", s.h.daemon, s.args...)
	if err != nil {
		return 0, err
	}
	began := time.Now()
	s.p = p
	if err := p.waitFor(ctx, 10*time.Minute, "ready", func() error { return httpOK("http://" + s.httpAddr + "/readyz") }); err != nil {
		return 0, err
	}
	return time.Since(began), nil
}

// restart stops the server (SIGTERM) and starts it again on the same data.
func (s *server) restart(ctx context.Context) (time.Duration, error) {
	if err := s.p.stop(); err != nil {
		return 0, err
	}
	return s.start(ctx)
}

// token mints a development token of who the way the README does.
func (s *server) token(ctx context.Context, who principal) (string, error) {
	if t, ok := s.tokens[who]; ok {
		return t, nil
	}
	args := []string{"token", "mint", "--data-dir", s.dataDir, "--role", who.role(), "--sub", who.sub(), "--ttl", "12h"}
	if who.phone() != "" {
		args = append(args, "--phone", who.phone())
	}
	out, err := s.h.runCLI(ctx, "", args...)
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(out)
	s.tokens[who] = t
	return t, nil
}

// runCLI runs callverify with args and returns its stdout.
func (h *harness) runCLI(ctx context.Context, server string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.cli, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if server != "" {
		cmd.Env = append(cmd.Env, "CALLVERIFY_SERVER="+server)
	}
	cmd.SysProcAttr = orphanless()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("callverify %s: %w\n%s", strings.Join(args[:min(2, len(args))], " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// clockTick is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every Linux architecture Go supports.
const clockTick = 100

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// vmRSS is the process's resident set size in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// diskUsage is the space the files under dir take on disk (allocated
// blocks, as du counts them).
func diskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}

// cachedBinary returns the path of the main package pkg of repo as the go
// command builds it for go run: in the Go build cache, where go run keeps
// the executables it links, so a later run (or make test's, which builds
// the same commands with the same flags) links nothing.
func cachedBinary(ctx context.Context, repo, pkg string) (string, error) {
	// -exec echo: go run names the binary instead of running it. On a
	// cache miss that is the file it linked in its temporary directory,
	// removed when it returns; by then the binary is cached, so the second
	// answer names the cached one.
	for range 2 {
		cmd := exec.CommandContext(ctx, "go", "run", "-exec", "echo", pkg)
		cmd.Dir = repo
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("go run %s: %w\n%s", pkg, err, stderr.Bytes())
		}
		exe := strings.TrimSpace(string(out))
		if _, err := os.Stat(exe); err == nil {
			return exe, nil
		}
	}
	return "", fmt.Errorf("go run -exec echo %s names no binary that exists", pkg)
}
