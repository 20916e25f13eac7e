package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// http2Preface is what an HTTP/2 client sends first.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// dialFrom opens a TCP connection from a given loopback address.
func dialFrom(from, to string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", to)
}

// closedWithin says whether the server closed c within d: reads (of any
// answer) end in EOF or a reset, not in our own timeout.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// slowBodyHeaders starts a unary REST request whose body never arrives.
const slowBodyHeaders = "POST /v1/verify/number HTTP/1.1\r\nHost: callverify\r\nContent-Type: application/json\r\n" +
	"Content-Length: 100000\r\n\r\n{"

const lowFDChild = "CALLVERIFY_TEST_LOW_FD_SERVER"

// TestSlowConnectionsFromOneAddressDoNotStarveOthers: a server limited to
// 1024 descriptors, with the default caps, faces 2,400 connections from
// 127.0.0.2: half send request headers and trickle a body, half send only
// the HTTP/2 preface. A client at 127.0.0.1 still gets /healthz, a REST
// call and gRPC health at once, and the rejections show in /metrics.
//
// The server runs in a child process (this test binary again), so that
// its descriptor limit can be lowered without touching the other tests.
func TestSlowConnectionsFromOneAddressDoNotStarveOthers(t *testing.T) {
	if os.Getenv(lowFDChild) != "" {
		serveWithFewDescriptors(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSlowConnectionsFromOneAddressDoNotStarveOthers$", "-test.count=1")
	cmd.Env = append(os.Environ(), lowFDChild+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childOut := make(chan string, 1)
	addrs := make(chan []string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "LISTENING" {
				addrs <- f[1:]
			}
			all.WriteString(sc.Text() + "\n")
		}
		childOut <- all.String()
	}()
	var grpcAddr, httpURL string
	select {
	case a := <-addrs:
		grpcAddr, httpURL = a[0], a[1]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the server did not start within 30s:\n%s", stderr.String())
	}
	defer func() {
		stdin.Close()
		err := cmd.Wait()
		out := <-childOut
		if err != nil || !strings.Contains(out, "PASS") {
			t.Errorf("server process: %v\n%s\n%s", err, out, stderr.String())
		}
	}()
	httpAddr := strings.TrimPrefix(httpURL, "http://")

	// The attack: 2,400 connections from 127.0.0.2, kept open.
	const attackers = 2400
	var (
		mu       sync.Mutex
		slowHTTP []net.Conn
		all      []net.Conn
	)
	defer func() {
		for _, c := range all {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				to, first := grpcAddr, http2Preface
				if i%2 == 0 {
					to, first = httpAddr, slowBodyHeaders
				}
				c, err := dialFrom("127.0.0.2", to)
				if err != nil {
					continue // the backlog may be full for a moment
				}
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = io.WriteString(c, first)
				mu.Lock()
				all = append(all, c)
				if i%2 == 0 {
					slowHTTP = append(slowHTTP, c)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < attackers; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	// Keep trickling the bodies while the good client asks.
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
				for _, c := range slowHTTP {
					_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = c.Write([]byte(" "))
				}
			}
		}
	}()
	defer func() { close(stopTrickle); <-trickled }()

	// The good client, at 127.0.0.1, on fresh connections.
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range []struct {
		method, path, body string
	}{
		{"GET", "/healthz", ""},
		{"POST", "/v1/verify/number", `{"number":"+8613800138000"}`},
	} {
		start := time.Now()
		req, _ := http.NewRequest(tc.method, httpURL+tc.path, strings.NewReader(tc.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s under attack: %v", tc.method, tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s under attack: %d, want 200", tc.method, tc.path, resp.StatusCode)
		}
		t.Logf("%s %s under attack: %v", tc.method, tc.path, time.Since(start))
	}
	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health under attack: %v, %v; want SERVING", res.GetStatus(), err)
	}

	req, _ := http.NewRequest("GET", httpURL+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("/metrics under attack: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rejected := 0.0
	for _, l := range []string{"grpc", "http"} {
		m := regexp.MustCompile(`callverify_connections_rejected_total\{listener="` + l + `",reason="per_address"\} (\S+)`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics has no per-address rejections of %s", l)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		if v == 0 {
			t.Errorf("no %s connection was rejected for the per-address cap", l)
		}
		rejected += v
	}
	if rejected < attackers-256 {
		t.Errorf("%v connections rejected for the per-address cap, want at least %d (all but the default 256)", rejected, attackers-256)
	}
}

// serveWithFewDescriptors is the child: the service, with the default
// caps, under a descriptor limit of 1024, until stdin closes.
func serveWithFewDescriptors(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 1024
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	env := testenv.New(t)
	fmt.Printf("LISTENING %s %s\n", env.GRPCAddr, env.HTTPURL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// TestAUnaryRequestBodyMustArriveWithinTheReadTimeout: headers, then a
// body that never comes: the connection is closed after the read timeout.
func TestAUnaryRequestBodyMustArriveWithinTheReadTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.Edge.HTTPReadTimeout = 300 * time.Millisecond })
	c, err := dialFrom("127.0.0.1", strings.TrimPrefix(env.HTTPURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, slowBodyHeaders); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(c, 5*time.Second) {
		t.Error("a request whose body stalled was held open past the read timeout")
	}
}

// TestStreamsLiveWhileBytesMoveAndEndWhenTheyStall: a bulk import that
// takes longer than the unary read timeout, a line at a time, is taken
// whole; one that stops sending is cut after the stream idle limit.
func TestStreamsLiveWhileBytesMoveAndEndWhenTheyStall(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) {
		c.Edge.HTTPReadTimeout = 200 * time.Millisecond
		c.Edge.StreamIdleTimeout = time.Second
		c.WatchHeartbeat = 500 * time.Millisecond
	})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", env.HTTPURL+"/v1/blocklist:import", pr)
	req.Header.Set("Authorization", "Bearer "+env.Analyst())
	req.Header.Set("Content-Type", "application/x-ndjson")
	go func() {
		for i := 0; i < 4; i++ {
			fmt.Fprintf(pw, `{"pattern":"+861330000%04d","category":"CATEGORY_SCAM"}`+"\n", i)
			time.Sleep(150 * time.Millisecond) // 600ms in all, 3x the read timeout
		}
		pw.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("slow import: %v", err)
	}
	var res callverifyv1.ImportEntriesResponse
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	testenv.Response{Status: resp.StatusCode, Body: body}.Into(t, &res)
	if resp.StatusCode != http.StatusOK || res.GetImported() != 4 {
		t.Errorf("an import moving a line every 150ms: %d %s, want 200 with 4 imported", resp.StatusCode, body)
	}

	c, err := dialFrom("127.0.0.1", strings.TrimPrefix(env.HTTPURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/blocklist:import HTTP/1.1\r\nHost: callverify\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n", env.Analyst())
	line := `{"pattern":"+8613300009999","category":"CATEGORY_SCAM"}` + "\n"
	fmt.Fprintf(c, "%x\r\n%s\r\n", len(line), line)
	start := time.Now()
	if !closedWithin(c, 10*time.Second) {
		t.Fatal("a stalled import was held open")
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("a stalled import was cut after %v, before its idle limit (1s)", d)
	}
}

// TestGRPCDropsConnectionsThatNeverFinishTheHandshake: a connection that
// sends only the HTTP/2 preface, or nothing, is closed after the handshake
// timeout (gRPC's default would hold it two minutes).
func TestGRPCDropsConnectionsThatNeverFinishTheHandshake(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.Edge.GRPCHandshakeTimeout = 300 * time.Millisecond })
	for _, first := range []string{http2Preface, ""} {
		c, err := dialFrom("127.0.0.1", env.GRPCAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, first)
		if !closedWithin(c, 5*time.Second) {
			t.Errorf("a gRPC connection that sent %q was held open past the handshake timeout", first)
		}
	}
}

// TestGRPCSendsIdleConnectionsAway: a client with no RPC open for the
// idle limit is sent a GOAWAY: its channel goes from READY to IDLE.
func TestGRPCSendsIdleConnectionsAway(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.Edge.GRPCMaxConnectionIdle = 300 * time.Millisecond })
	cc, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	for s := cc.GetState(); s == connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatal("the idle connection was still open after 5s")
		}
	}
}

// TestGRPCBoundsTheRPCsOfOneConnection: with at most 3 concurrent
// streams, a fourth RPC on the same connection waits until one ends.
func TestGRPCBoundsTheRPCsOfOneConnection(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.Edge.GRPCMaxConcurrentStreams = 3 })
	health := healthpb.NewHealthClient(env.Conn)
	// The first call also brings the server's SETTINGS (its stream limit).
	if _, err := health.Check(env.Ctx(""), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	var open []callverifyv1.BlocklistService_ImportEntriesClient
	for i := 0; i < 3; i++ {
		st, err := bl.ImportEntries(env.Ctx(env.Analyst()))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a fourth RPC with three streams open: %v, want it to wait (DeadlineExceeded)", err)
	}
	if _, err := open[0].CloseAndRecv(); err != nil {
		t.Logf("closing an import: %v", err)
	}
	if _, err := health.Check(env.Ctx(""), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("an RPC after a stream ended: %v", err)
	}
	for _, st := range open[1:] {
		_, _ = st.CloseAndRecv()
	}
}
