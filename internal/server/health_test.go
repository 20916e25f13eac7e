package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/callverify/callverify/internal/auth"
)

type refuseAll struct{}

func (refuseAll) Verify(context.Context, string) (*auth.Principal, error) {
	return nil, auth.ErrUnauthenticated
}

// TestHealthFollowsTheStoreAndDraining: readiness and gRPC health go
// NOT_SERVING while the store is unreachable, come back with it, and stay
// down once shutdown begins.
func TestHealthFollowsTheStoreAndDraining(t *testing.T) {
	t.Parallel()
	var storeErr atomic.Pointer[error]
	ready := func(context.Context) error {
		if p := storeErr.Load(); p != nil {
			return *p
		}
		return nil
	}
	s, err := New(Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: refuseAll{}, Ready: ready,
		ReadyInterval: 10 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
	}, &Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, gl, hl) }()
	cc, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	readyz := func() int {
		resp, err := http.Get("http://" + hl.Addr().String() + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, want healthpb.HealthCheckResponse_ServingStatus, wantHTTP int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "callverify.v1.VerifyService"})
			got := healthpb.HealthCheckResponse_UNKNOWN
			if err == nil {
				got = r.GetStatus()
			}
			code := readyz()
			if got == want && code == wantHTTP {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %v and /readyz %d, want %v and %d", what, got, code, want, wantHTTP)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("store up", healthpb.HealthCheckResponse_SERVING, 200)
	down := errors.New("store unreachable")
	storeErr.Store(&down)
	waitFor("store down", healthpb.HealthCheckResponse_NOT_SERVING, 503)
	storeErr.Store(nil)
	waitFor("store back", healthpb.HealthCheckResponse_SERVING, 200)

	s.draining.Store(true) // as Serve does first when shutdown begins
	if got := readyz(); got != 503 {
		t.Errorf("/readyz while draining = %d, want 503", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
