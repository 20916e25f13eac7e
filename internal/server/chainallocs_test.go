package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/callverify/callverify/internal/auth"
)

// TestChainAllocatesLittlePerCall: with a bearer token the server has seen
// before, the whole interceptor chain (request id, deadline, metrics, the
// info-level log, authentication and the role check) allocates a handful
// of objects per call: no metadata copies, no label hashing, no log
// attributes that nobody will write (34 allocations before they went).
//
// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestChainAllocatesLittlePerCall(t *testing.T) {
	dir := t.TempDir()
	secretPath, err := auth.EnsureDevSecret(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := auth.LoadHMACSecret(secretPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{Issuer: auth.DevIssuer, Audience: auth.DevAudience, HMACSecretFile: secretPath})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Mint(secret, auth.MintOptions{Subject: "c-1", Role: auth.RoleCustomer, PhoneNumber: "+8613800138000", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := newChain(log, v, prometheus.NewRegistry(), nil, 10*time.Second)
	call := chainUnary(c.unary()...)
	info := &grpc.UnaryServerInfo{FullMethod: "/callverify.v1.VerifyService/CheckCaller"}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
	var reached bool
	handler := func(ctx context.Context, _ any) (any, error) {
		p, ok := auth.FromContext(ctx)
		reached = ok && p.Subject == "c-1"
		return nil, nil
	}
	once := func() {
		reached = false
		sctx := grpc.NewContextWithServerTransportStream(ctx, &headerStream{method: info.FullMethod})
		if _, err := call(sctx, &emptypb.Empty{}, info, handler); err != nil {
			t.Fatal(err)
		}
		if !reached {
			t.Fatal("the handler did not run with the token's principal")
		}
	}
	once()
	if got := testing.AllocsPerRun(50, once); got > 24 {
		t.Fatalf("one call through the chain: %.0f allocations, want at most 24", got)
	}
}
