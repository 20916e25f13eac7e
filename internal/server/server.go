package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/netlimit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/streamcap"
	"github.com/callverify/callverify/internal/web"
	"github.com/callverify/callverify/verify"
)

// Deps are the domain services the adapters call.
type Deps struct {
	Verify    *verify.Service
	Blocklist *blocklist.Service
	// Callbacks is the callbacks domain; nil answers its RPCs UNIMPLEMENTED.
	Callbacks *callback.Service
	Audit     *audit.Recorder
	Phone     *phone.Parser
	// JWKS returns the public keys of the call tokens.
	JWKS func(ctx context.Context) ([]byte, error)
}

// Config is the transport's configuration.
type Config struct {
	Logger *slog.Logger
	Auth   Authenticator
	// Ready reports whether the store can be reached.
	Ready func(ctx context.Context) error
	// RequestTimeout bounds every unary RPC (default 10s).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown (default 15s).
	ShutdownTimeout time.Duration
	// LookupRate and LookupBurst limit anonymous LookupNumber per client
	// address (default 1/s, burst 10).
	LookupRate  rate.Limit
	LookupBurst int
	// MaxBodyBytes bounds REST request bodies except bulk import (default 1 MiB).
	MaxBodyBytes int64
	// ReadyInterval is how often the store is probed for health (default 2s).
	ReadyInterval time.Duration
	// IndexMaxLag: not ready while the blocklist index is further behind
	// the store than this (default 5s).
	IndexMaxLag time.Duration
	// WatchHeartbeat is how often an idle WatchMyCalls stream sends a
	// heartbeat (default DefaultWatchHeartbeat); it must be shorter than
	// Edge.StreamIdleTimeout, or idle REST streams are cut.
	WatchHeartbeat time.Duration
	// WatchPerCustomer caps the WatchMyCalls streams one customer may hold
	// open on this instance (default DefaultWatchPerCustomer), unless
	// WatchCap is set.
	WatchPerCustomer int
	// WatchCap, when set, caps them instead: a shared one (rediscap)
	// counts the streams of every instance.
	WatchCap streamcap.Cap
	// Collectors are more metrics to serve on /metrics (e.g. the retention
	// sweeper's).
	Collectors []prometheus.Collector
	// DevMint mints development bearer tokens for the web pages' sign-in
	// (POST /dev/token); set only with --dev, the route is absent without.
	DevMint web.Minter

	Edge EdgeConfig
}

// Server serves gRPC and HTTP from one set of services.
type Server struct {
	// httpRoutes are the HTTP patterns served beside the gateway's.
	httpRoutes []string
	cfg        Config
	deps       *Deps
	log        *slog.Logger
	grpc       *grpc.Server
	health     *health.Server
	registry   *prometheus.Registry
	http       *http.Server
	inner      *bufconn.Listener
	innerCC    *grpc.ClientConn
	chain      *chain
	verify     *verifyServer
	conns      *netlimit.Limiter
	// httpMetrics count and time the HTTP requests by route.
	httpMetrics *httpMetrics
	// sweep runs the in-memory lookup limiter's sweeper while serving.
	sweep    func(ctx context.Context)
	draining atomic.Bool
	// storeUp and storeProbeFailures are what the health probe found of
	// the store, for the metrics.
	storeUp            atomic.Bool
	storeProbeFailures atomic.Int64
	// drainStart is closed when shutdown begins, for long streams to
	// finish their work and answer.
	drainStart chan struct{}
}

// New builds the server and registers every service.
func New(cfg Config, deps *Deps) (*Server, error) {
	if cfg.Logger == nil || cfg.Auth == nil || cfg.Ready == nil || deps == nil {
		return nil, errors.New("server: Logger, Auth, Ready and Deps are required")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.LookupRate <= 0 {
		cfg.LookupRate = 1
	}
	if cfg.LookupBurst <= 0 {
		cfg.LookupBurst = 10
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.ReadyInterval <= 0 {
		cfg.ReadyInterval = 2 * time.Second
	}
	if cfg.IndexMaxLag <= 0 {
		cfg.IndexMaxLag = 5 * time.Second
	}
	if err := cfg.Edge.setDefaults(cfg.RequestTimeout); err != nil {
		return nil, err
	}
	if cfg.WatchHeartbeat <= 0 {
		cfg.WatchHeartbeat = DefaultWatchHeartbeat
	}
	if cfg.WatchPerCustomer <= 0 {
		cfg.WatchPerCustomer = DefaultWatchPerCustomer
	}
	watchCap := cfg.WatchCap
	if watchCap == nil {
		watchCap = streamcap.NewLocal(cfg.WatchPerCustomer)
	}
	if cfg.WatchHeartbeat >= cfg.Edge.StreamIdleTimeout {
		return nil, fmt.Errorf("server: the watch heartbeat (%v) must be shorter than the stream idle timeout (%v), or idle watch streams are cut", cfg.WatchHeartbeat, cfg.Edge.StreamIdleTimeout)
	}
	e := cfg.Edge
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger, registry: prometheus.NewRegistry(), drainStart: make(chan struct{})}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.registerIndexMetrics()
	s.registerStatusMetrics()
	s.registry.MustRegister(cfg.Collectors...)
	s.conns = netlimit.New(netlimit.Limits{PerAddr: e.MaxConnsPerAddr, Total: e.MaxConns, Exempt: e.TrustedProxies.Trusts}, s.registry)
	lookups, err := s.lookupLimits(cfg)
	if err != nil {
		return nil, err
	}
	ch := newChain(cfg.Logger, cfg.Auth, s.registry, lookups, cfg.RequestTimeout)
	s.chain = ch
	s.verify = &verifyServer{d: deps, tokenNumbers: phone.NewMemo(deps.Phone, tokenNumberMemoSize),
		watchers: newWatchCap(watchCap, s.registry), heartbeat: cfg.WatchHeartbeat, draining: s.drainStart,
		outcomes: ch.outcomes}

	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(ch.unary()...),
		grpc.ChainStreamInterceptor(ch.stream()...),
		grpc.MaxRecvMsgSize(4<<20),
		// A connection that sends only the HTTP/2 preface, or nothing, is
		// dropped after the handshake timeout instead of the default 120s.
		grpc.ConnectionTimeout(e.GRPCConnectionTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             e.GRPCKeepaliveMinTime,
			PermitWithoutStream: false,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: e.GRPCMaxConnectionIdle,
			Time:              e.GRPCKeepaliveTime,
			Timeout:           e.GRPCKeepaliveTimeout,
		}),
		grpc.MaxConcurrentStreams(e.GRPCMaxConcurrentStreams),
		// A fixed pool of goroutines serves the streams, instead of a new
		// goroutine per RPC whose stack grows from 8 KiB on every call
		// (runtime.newstack/copystack were a tenth of CheckCaller's CPU).
		// When every worker is busy gRPC still starts a goroutine, so a slow
		// RPC never holds up the others.
		grpc.NumStreamWorkers(streamWorkers()),
	)
	services := []struct {
		desc *grpc.ServiceDesc
		impl any
	}{
		{&callverifyv1.CallService_ServiceDesc, &callServer{d: deps}},
		{&callverifyv1.VerifyService_ServiceDesc, s.verify},
		{&callverifyv1.BlocklistService_ServiceDesc, &blocklistServer{d: deps, draining: s.drainStart}},
		{&callverifyv1.AdminService_ServiceDesc, &adminServer{d: deps}},
		{&callverifyv1.CallbackService_ServiceDesc, &callbackServer{d: deps}},
	}
	for _, svc := range services {
		s.grpc.RegisterService(svc.desc, svc.impl)
	}
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)

	// Streams reach the services over an in-memory gRPC connection, so they
	// too pass the chain; unary calls skip even that.
	s.inner = bufconn.Listen(1 << 20)
	cc, err := grpc.NewClient("passthrough:///inproc",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.inner.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("in-process connection: %w", err)
	}
	s.innerCC = cc
	conn := newInprocConn(chainUnary(ch.unary()...), cc)
	for _, svc := range services {
		conn.register(svc.desc, svc.impl)
	}

	s.httpMetrics = newHTTPMetrics(s.registry)
	gw := gwruntime.NewServeMux(
		gwruntime.WithMiddlewares(gatewayMiddleware),
		gwruntime.WithMarshalerOption(gwruntime.MIMEWildcard, restMarshaler{&gwruntime.HTTPBodyMarshaler{
			Marshaler: &gwruntime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
		}}),
		gwruntime.WithOutgoingHeaderMatcher(func(key string) (string, bool) {
			switch key {
			case "x-request-id":
				return "X-Request-Id", true
			case "retry-after":
				return "Retry-After", true
			}
			return gwruntime.MetadataHeaderPrefix + key, true
		}),
		gwruntime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, "X-Request-Id") {
				return "x-request-id", true
			}
			return gwruntime.DefaultHeaderMatcher(key)
		}),
		gwruntime.WithMarshalerOption("application/x-ndjson", &gwruntime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false},
		}),
	)
	ctx := context.Background()
	for _, reg := range []func(context.Context, *gwruntime.ServeMux, grpc.ClientConnInterface) error{
		func(ctx context.Context, m *gwruntime.ServeMux, c grpc.ClientConnInterface) error {
			return callverifyv1.RegisterCallServiceHandlerClient(ctx, m, callverifyv1.NewCallServiceClient(c))
		},
		func(ctx context.Context, m *gwruntime.ServeMux, c grpc.ClientConnInterface) error {
			return callverifyv1.RegisterVerifyServiceHandlerClient(ctx, m, callverifyv1.NewVerifyServiceClient(c))
		},
		func(ctx context.Context, m *gwruntime.ServeMux, c grpc.ClientConnInterface) error {
			return callverifyv1.RegisterBlocklistServiceHandlerClient(ctx, m, callverifyv1.NewBlocklistServiceClient(c))
		},
		func(ctx context.Context, m *gwruntime.ServeMux, c grpc.ClientConnInterface) error {
			return callverifyv1.RegisterAdminServiceHandlerClient(ctx, m, callverifyv1.NewAdminServiceClient(c))
		},
		func(ctx context.Context, m *gwruntime.ServeMux, c grpc.ClientConnInterface) error {
			return callverifyv1.RegisterCallbackServiceHandlerClient(ctx, m, callverifyv1.NewCallbackServiceClient(c))
		},
	} {
		if err := reg(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	s.http = &http.Server{
		Handler:           s.edge(s.httpMetrics.wrap(s.routes(gw))),
		ReadHeaderTimeout: e.ReadHeaderTimeout,
		ReadTimeout:       e.ReadTimeout,
		WriteTimeout:      e.WriteTimeout,
		IdleTimeout:       e.IdleTimeout,
		MaxHeaderBytes:    e.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// streamWorkers is how many goroutines serve gRPC streams, each one after
// the other (grpc.NumStreamWorkers). A stream that finds every worker busy
// gets a goroutine of its own, which starts on a small stack and grows it,
// copying, as the handler goes down into the store: with one worker per
// CPU, at 50 concurrent calls on 2 CPUs nearly every call did, and stack
// growth was 12% of the process's CPU in BenchmarkHotPaths/CheckCaller.
// Workers that keep their grown stacks serve the usual concurrency; an
// idle one costs a parked goroutine.
func streamWorkers() uint32 { return uint32(max(64, 16*runtime.GOMAXPROCS(0))) }

// chainUnary folds interceptors into one, outermost first, as gRPC does.
// The fold happens once, here; each call only walks it.
func chainUnary(ics ...grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if len(ics) == 1 {
		return ics[0]
	}
	outer, rest := ics[0], chainUnary(ics[1:]...)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return outer(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return rest(ctx, req, info, h)
		})
	}
}

// Serve serves until ctx is done, then drains: health goes NOT_SERVING,
// HTTP and gRPC stop taking new work and finish what they have, within
// ShutdownTimeout, after which the rest is cut off.
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	grpcLis = s.conns.Listen("grpc", grpcLis)
	httpLis = s.conns.Listen("http", httpLis)
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() { defer close(swept); s.sweep(sweepCtx) }()
	defer func() { stopSweep(); <-swept }()
	errc := make(chan error, 3)
	go func() { errc <- s.grpc.Serve(grpcLis) }()
	go func() { errc <- s.grpc.Serve(s.inner) }()
	go func() {
		if err := s.http.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	s.watchHealth(ctx)
	s.log.Info("serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
		// The cause names the signal when main's signal.NotifyContext
		// ended ctx ("terminated signal received").
		s.log.Info("draining for up to "+s.cfg.ShutdownTimeout.String(),
			"cause", context.Cause(ctx).Error(), "shutdown_timeout", s.cfg.ShutdownTimeout)
	case serveErr = <-errc:
		s.log.Error("listener failed, shutting down", "error", serveErr)
		s.log.Info("draining for up to "+s.cfg.ShutdownTimeout.String(),
			"cause", "listener failed", "shutdown_timeout", s.cfg.ShutdownTimeout)
	}
	s.draining.Store(true)
	close(s.drainStart)
	s.health.Shutdown()
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(shutCtx); err != nil {
		s.log.Warn("http shutdown cut short", "error", err)
		_ = s.http.Close()
	}
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-shutCtx.Done():
		s.log.Warn("grpc graceful stop cut short")
		s.grpc.Stop()
	}
	_ = s.innerCC.Close()
	s.log.Info("stopped")
	return serveErr
}

// watchHealth keeps gRPC health in step with the store and the blocklist
// index until ctx is done.
func (s *Server) watchHealth(ctx context.Context) {
	check := func() {
		st := healthpb.HealthCheckResponse_SERVING
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := s.ready(pctx); err != nil && ctx.Err() == nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
			s.log.Warn("not ready", "error", err)
			var behind errIndexBehind
			if !errors.As(err, &behind) { // the store did not answer
				s.storeUp.Store(false)
				s.storeProbeFailures.Add(1)
			} else {
				s.storeUp.Store(true)
			}
		} else if err == nil {
			s.storeUp.Store(true)
		}
		cancel()
		if s.draining.Load() {
			return
		}
		s.health.SetServingStatus("", st)
		for _, name := range []string{"callverify.v1.CallService", "callverify.v1.VerifyService",
			"callverify.v1.BlocklistService", "callverify.v1.AdminService"} {
			s.health.SetServingStatus(name, st)
		}
	}
	check()
	go func() {
		t := time.NewTicker(s.cfg.ReadyInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				check()
			}
		}
	}()
}

// Registry is the server's private Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.registry }
