package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// failingLimiter stands in for a shared limiter (Redis) that cannot be
// reached.
type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	return false, 0, errors.New("dial tcp 10.0.0.9:6379: connection refused")
}

// TestAFailingLookupLimiterRefusesAnonymousLookups: when the limiter
// cannot decide, LookupNumber is UNAVAILABLE (never unlimited), and the
// cause goes to the log, not to the client.
func TestAFailingLookupLimiterRefusesAnonymousLookups(t *testing.T) {
	t.Parallel()
	var logs syncBuf
	s, err := New(Config{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Auth: refuseAll{}, Ready: func(context.Context) error { return nil },
		ShutdownTimeout: 2 * time.Second,
		Edge:            EdgeConfig{LookupLimiter: failingLimiter{}},
	}, &Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, gl, hl) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	cc, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for i := 0; i < 3; i++ {
		_, err := callverifyv1.NewVerifyServiceClient(cc).LookupNumber(context.Background(), &callverifyv1.LookupNumberRequest{Number: "+8613800138000"})
		st := status.Convert(err)
		if st.Code() != codes.Unavailable {
			t.Fatalf("lookup %d with the limiter down: %v, want Unavailable", i+1, st.Code())
		}
		if st.Message() != defaultMessages[codes.Unavailable] {
			t.Errorf("client message %q leaks more than the fixed sentence", st.Message())
		}
	}
	if !logs.contains("connection refused") {
		t.Errorf("the limiter's error is not in the log:\n%s", logs.String())
	}
}

// syncBuf is a log buffer safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) contains(sub string) bool { return strings.Contains(s.String(), sub) }
