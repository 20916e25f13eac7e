package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callverify/callverify/internal/auth"
)

// Authenticator checks a bearer token.
type Authenticator interface {
	Verify(ctx context.Context, token string) (*auth.Principal, error)
}

// chain is the one interceptor chain. gRPC installs it with
// grpc.ChainUnaryInterceptor; the in-process gateway connection runs the
// same functions, so REST and gRPC are treated identically.
type chain struct {
	log      *slog.Logger
	authn    Authenticator
	lookups  *lookupLimits
	timeout  time.Duration
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// outcomes counts answers beyond their status (registered with the
	// chain, so every server has them once).
	outcomes *outcomes
	// perMethod holds each method's latency and OK series (method name to
	// *methodMetrics), looked up once instead of hashing the labels on
	// every call. Only registered methods reach the chain, so it is small.
	perMethod sync.Map
}

type methodMetrics struct {
	latency prometheus.Observer
	ok      prometheus.Counter
}

func (c *chain) metricsFor(method string) *methodMetrics {
	if m, ok := c.perMethod.Load(method); ok {
		return m.(*methodMetrics)
	}
	m, _ := c.perMethod.LoadOrStore(method, &methodMetrics{
		latency: c.latency.WithLabelValues(method),
		ok:      c.requests.WithLabelValues(method, codes.OK.String()),
	})
	return m.(*methodMetrics)
}

func newChain(log *slog.Logger, authn Authenticator, reg prometheus.Registerer, lookups *lookupLimits, timeout time.Duration) *chain {
	c := &chain{
		log:     log,
		authn:   authn,
		lookups: lookups,
		timeout: timeout,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_rpc_requests_total",
			Help: "RPCs handled, by method and status code (gRPC and REST alike).",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callverify_rpc_duration_seconds",
			Help:    "RPC latency by method (gRPC and REST alike).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"method"}),
	}
	reg.MustRegister(c.requests, c.latency)
	c.outcomes = newOutcomes(reg)
	return c
}

func (c *chain) unary() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{c.observeUnary, c.authUnary}
}

func (c *chain) stream() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{c.observeStream, c.authStream}
}

// observeUnary recovers panics, gives the call a request id and a deadline,
// maps its error to a status, and logs and counts it.
func (c *chain) observeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	ctx, id := withRequestID(ctx)
	// The client gets the id back (REST: the X-Request-Id header), to quote
	// when it reports a problem.
	_ = grpc.SetHeader(ctx, metadata.MD{"x-request-id": {id}})
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			c.log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "request_id", id, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, defaultMessages[codes.Internal])
		}
		err = c.finish(ctx, info.FullMethod, id, start, err)
	}()
	return h(ctx, req)
}

func (c *chain) observeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	start := time.Now()
	ctx, id := withRequestID(ss.Context())
	_ = ss.SetHeader(metadata.MD{"x-request-id": {id}})
	defer func() {
		if r := recover(); r != nil {
			c.log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "request_id", id, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, defaultMessages[codes.Internal])
		}
		err = c.finish(ctx, info.FullMethod, id, start, err)
	}()
	return h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}

func (c *chain) finish(ctx context.Context, method, id string, start time.Time, err error) error {
	d := time.Since(start)
	m := c.metricsFor(method)
	m.latency.Observe(d.Seconds())
	if err == nil {
		m.ok.Inc()
		// The success line is debug: its attributes are built only when
		// debug is on.
		if c.log.Enabled(ctx, slog.LevelDebug) {
			c.log.DebugContext(ctx, "rpc", c.logAttrs(ctx, method, codes.OK, d, id)...)
		}
		return nil
	}
	st := toStatus(err)
	code := st.Code()
	if code == codes.OK {
		m.ok.Inc()
	} else {
		c.requests.WithLabelValues(method, code.String()).Inc()
	}
	attrs := c.logAttrs(ctx, method, code, d, id)
	switch code {
	case codes.OK:
		c.log.DebugContext(ctx, "rpc", attrs...)
	case codes.Internal, codes.Unavailable, codes.Unknown, codes.DataLoss:
		c.log.ErrorContext(ctx, "rpc failed", append(attrs, "error", redact(err.Error()))...)
	default:
		c.log.InfoContext(ctx, "rpc refused", append(attrs, "error", redact(err.Error()))...)
	}
	return st.Err()
}

func (c *chain) logAttrs(ctx context.Context, method string, code codes.Code, d time.Duration, id string) []any {
	attrs := []any{"method", method, "code", code.String(), "duration", d, "request_id", id}
	if p, ok := auth.FromContext(ctx); ok {
		attrs = append(attrs, "sub", p.Subject, "role", string(p.Role))
	}
	return attrs
}

// authUnary authenticates the caller and enforces the role table.
func (c *chain) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := c.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (c *chain) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := c.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}

func (c *chain) authorize(ctx context.Context, method string) (context.Context, error) {
	a, known := methodAccess[method]
	if !known {
		return ctx, status.Error(codes.PermissionDenied, defaultMessages[codes.PermissionDenied])
	}
	if a.anonymous {
		if method == lookupNumberMethod {
			if err := c.lookups.allow(ctx); err != nil {
				return ctx, err
			}
		}
		return ctx, nil
	}
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) != 1 {
		c.outcomes.bearerRefused[bearerMissing].Inc()
		return ctx, status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	tok, err := auth.BearerToken(vals[0])
	if err != nil {
		c.outcomes.bearerRefused[bearerMissing].Inc()
		return ctx, status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	p, err := c.authn.Verify(ctx, tok)
	if err != nil {
		c.log.InfoContext(ctx, "token refused", "method", method, "error", err)
		if errors.Is(err, auth.ErrExpired) {
			c.outcomes.bearerRefused[bearerExpired].Inc()
			return ctx, status.Error(codes.Unauthenticated, msgTokenExpired)
		}
		c.outcomes.bearerRefused[bearerInvalid].Inc()
		return ctx, status.Error(codes.Unauthenticated, msgTokenInvalid)
	}
	if !a.allows(p.Role) {
		return ctx, status.Error(codes.PermissionDenied, "your role may not call this method")
	}
	return auth.NewContext(ctx, p), nil
}

// What a refused bearer token is told: an expired one that it should get a
// new one, any other only that it is not valid (never why).
const (
	msgTokenExpired = "the bearer token has expired; get a new one"
	msgTokenInvalid = "the bearer token is not valid"
)

const lookupNumberMethod = "/callverify.v1.VerifyService/LookupNumber"

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

type requestIDKey struct{}

// withRequestID takes the client's x-request-id when it is sane, or makes one.
func withRequestID(ctx context.Context) (context.Context, string) {
	id := ""
	if v := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(v) == 1 && len(v[0]) <= 64 && isToken(v[0]) {
		id = v[0]
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return context.WithValue(ctx, requestIDKey{}, id), id
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}
