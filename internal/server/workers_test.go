package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
)

// stackProbe refuses every token, after writing down the stack of the
// goroutine that asked.
type stackProbe struct {
	mu     sync.Mutex
	stacks []string
}

func (p *stackProbe) Verify(context.Context, string) (*auth.Principal, error) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	p.mu.Lock()
	p.stacks = append(p.stacks, string(buf))
	p.mu.Unlock()
	return nil, auth.ErrUnauthenticated
}

// TestRPCsRunOnStreamWorkers: gRPC requests are served by gRPC's stream
// workers, whose grown stacks are kept from call to call, not each by a
// goroutine started for it (grpc.NumStreamWorkers is set).
func TestRPCsRunOnStreamWorkers(t *testing.T) {
	t.Parallel()
	probe := &stackProbe{}
	s, err := New(Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: probe,
		Ready: func(context.Context) error { return nil }, ShutdownTimeout: 2 * time.Second,
	}, &Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	vc := callverifyv1.NewVerifyServiceClient(cc)
	rctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer x.y.z")
	const calls = 5
	for range calls {
		if _, err := vc.CheckCaller(rctx, &callverifyv1.CheckCallerRequest{CallerNumber: "+864008008888"}); err == nil {
			t.Fatal("CheckCaller with a refused token succeeded")
		}
	}
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if got, want := len(probe.stacks), calls; got != want {
		t.Fatalf("tokens checked = %d, want %d", got, want)
	}
	// Not necessarily all: a worker that has just answered may not be back
	// at its channel when the next call arrives, and gRPC then starts a
	// goroutine, by design. Without workers no call ever runs on one.
	onWorker := 0
	for _, st := range probe.stacks {
		if strings.Contains(st, "grpc.(*Server).serverWorker") {
			onWorker++
		}
	}
	if onWorker == 0 {
		t.Errorf("none of %d calls was served by a stream worker; the first one's stack:\n%s", calls, probe.stacks[0])
	}
}
