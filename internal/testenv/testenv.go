// Package testenv starts the whole service for tests: the real app on a
// temporary data directory, gRPC and HTTP on loopback ports, a clock the
// test moves, and bearer tokens from the development issuer (--dev).
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/clocktest"
)

// Clock is a settable clock, safe for concurrent use.
type Clock = clocktest.Clock

// Start is where every test clock starts.
var Start = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// Env is a running service.
type Env struct {
	t       testing.TB
	DataDir string
	// HTTPURL is the base URL of REST, e.g. "http://127.0.0.1:41234".
	HTTPURL  string
	GRPCAddr string
	// Conn is a gRPC client connection to the service.
	Conn  *grpc.ClientConn
	Clock *Clock
	// Logs holds what the service logged.
	Logs *SyncBuffer
	// HTTPRoutes are the patterns ("GET /healthz") served beside the
	// RPCs' gateway routes.
	HTTPRoutes []string
	// Registry is the service's Prometheus registry (what /metrics serves).
	Registry *prometheus.Registry

	cfg    app.Config
	secret []byte
	stop   func()
}

// Option changes the configuration before start.
type Option func(*app.Config)

// New starts the service and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	cfg, err := app.ParseFlags("testenv", []string{
		"--dev", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--log-level", "debug",
		"--shutdown-timeout", "5s",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("testenv config: %v", err)
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := &Env{t: t, DataDir: cfg.DataDir, Clock: clocktest.New(Start), Logs: &SyncBuffer{}, cfg: cfg}
	e.start()
	t.Cleanup(e.Stop)
	return e
}

func (e *Env) start() {
	t := e.t
	t.Helper()
	// Debug unless the test asked for less (benchmarks set "error", so the
	// per-RPC debug line is not what they measure).
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(e.cfg.LogLevel))); err != nil {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, e.cfg, app.Options{Logger: log, Now: e.Clock.Now})
	if err != nil {
		cancel()
		t.Fatalf("testenv: start app: %v", err)
	}
	e.HTTPRoutes = a.HTTPRoutes()
	e.Registry = a.Registry()
	gl, err := net.Listen("tcp", e.cfg.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", e.cfg.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	e.GRPCAddr = gl.Addr().String()
	e.HTTPURL = "http://" + hl.Addr().String()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, gl, hl) }()
	e.Conn, err = grpc.NewClient(e.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	if e.secret, err = os.ReadFile(filepath.Join(e.DataDir, "dev-issuer.key")); err != nil {
		t.Fatalf("testenv: read the development secret: %v", err)
	}
	e.stop = func() {
		e.Conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testenv: serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("testenv: server did not stop within 10s")
		}
		a.Close()
	}
}

// Stop stops the service (idempotent).
func (e *Env) Stop() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// Restart stops the service and starts it again on the same data directory
// and addresses.
func (e *Env) Restart() {
	e.t.Helper()
	e.Stop()
	// Keep-alive connections to the old server are dead now.
	http.DefaultClient.CloseIdleConnections()
	e.cfg.GRPCAddr = e.GRPCAddr
	e.cfg.HTTPAddr = strings.TrimPrefix(e.HTTPURL, "http://")
	e.start()
}

// Token mints a bearer token of the development issuer.
func (e *Env) Token(role auth.Role, sub, phoneNumber string) string {
	e.t.Helper()
	tok, err := auth.Mint(e.secret, auth.MintOptions{Subject: sub, Role: role, PhoneNumber: phoneNumber, TTL: 24 * time.Hour, Now: e.Clock.Now})
	if err != nil {
		e.t.Fatalf("testenv: mint: %v", err)
	}
	return tok
}

// Admin, Analyst, Dialer and Customer mint tokens for common principals.
func (e *Env) Admin() string   { return e.Token(auth.RoleAdmin, "admin-1", "") }
func (e *Env) Analyst() string { return e.Token(auth.RoleAnalyst, "analyst-1", "") }
func (e *Env) Dialer() string  { return e.Token(auth.RoleDialer, "dialer-1", "") }
func (e *Env) Customer(phoneNumber string) string {
	return e.Token(auth.RoleCustomer, "customer-"+phoneNumber, phoneNumber)
}

// Ctx returns a context whose gRPC calls carry the bearer token ("" = none).
func (e *Env) Ctx(token string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// Response is a REST answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into a map.
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Into decodes the body into a proto message with protojson.
func (r Response) Into(t testing.TB, m proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal(r.Body, m); err != nil {
		t.Fatalf("decode %s: %v (body %s)", proto.MessageName(m), err, r.Body)
	}
}

// Do sends a REST request. body may be nil, a string, []byte, a proto
// message (protojson) or anything encoding/json takes.
func (e *Env) Do(method, path, token string, body any) Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case proto.Message:
		j, err := protojson.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.HTTPURL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes, for logs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
