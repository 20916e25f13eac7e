package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// TestARunThatReachesItsBoundFailsSayingSo: a ghz run that sends as many
// requests as its bound allows ends before its length; the harness must
// report it (not panic when its clock then stops a finished run).
func TestARunThatReachesItsBoundFailsSayingSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, emptyHealth{})
	reflection.Register(gs)
	go gs.Serve(l)
	defer gs.Stop()

	rate, floor := ghzMaxRate, ghzMinBound
	ghzMaxRate, ghzMinBound = 0, 200
	defer func() { ghzMaxRate, ghzMinBound = rate, floor }()

	h := &harness{}
	start := time.Now()
	_, err = h.ghzRun(l.Addr().String(), grpcTarget{method: healthMethod}, 4, 3*time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "bound of 200 requests") {
		t.Fatalf("ghzRun = %v, want the bound's error", err)
	}
	if took := time.Since(start); took >= 3*time.Second {
		t.Errorf("the run took %v: it did not end at its bound", took)
	}
	// Past the run's length, when its clock would have stopped it.
	time.Sleep(3500*time.Millisecond - time.Since(start))
}
