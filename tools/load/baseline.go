package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// baselineCmd is the argument that makes this binary the baseline: an
// empty gRPC health handler and an empty HTTP handler, in a process of
// their own so that they cost what an empty server costs. Every ratio the
// harness reports is a throughput over this one's, same run, same client.
const baselineCmd = "baseline"

// emptyHealth answers every Check at once: the least a gRPC server can do.
type emptyHealth struct {
	healthpb.UnimplementedHealthServer
}

func (emptyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func runBaseline(args []string) error {
	fs := flag.NewFlagSet(baselineCmd, flag.ContinueOnError)
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:0", "gRPC listen address")
	httpAddr := fs.String("http-addr", "127.0.0.1:0", "HTTP listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	gl, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		return err
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, emptyHealth{})
	reflection.Register(gs) // ghz finds the method by reflection, as on callverifyd
	hs := &http.Server{
		Addr:              *httpAddr,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
		}),
	}
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() { errc <- hs.ListenAndServe() }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs.Stop()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	os.Stdout.Sync()
	return nil
}
