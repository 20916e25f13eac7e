package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callverify/callverify/internal/netlimit"
	"github.com/callverify/callverify/internal/ratelimit"
)

// lookupLimits bound anonymous LookupNumber: a bucket per client (an IPv6
// client by its /64) and one for all clients together (of this instance,
// or of every instance when the limiter is shared).
type lookupLimits struct {
	perClient ratelimit.Limiter
	global    ratelimit.Limiter
	proxies   netlimit.Proxies
	refused   *prometheus.CounterVec
	log       *slog.Logger
}

// globalKey is the one key of the bucket of all clients.
const globalKey = "all"

// lookupLimits builds the limiters, the metrics that show them, and the
// sweeper Serve runs.
func (s *Server) lookupLimits(cfg Config) (*lookupLimits, error) {
	e := cfg.Edge
	s.sweep = func(context.Context) {}
	perClient := e.LookupLimiter
	if perClient == nil {
		mem, err := ratelimit.NewMemory(ratelimit.MemoryConfig{
			Rate: cfg.LookupRate, Burst: cfg.LookupBurst, MaxKeys: e.LookupMaxClients, Now: e.Now,
		})
		if err != nil {
			return nil, err
		}
		perClient, s.sweep = mem, mem.Run
		s.registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "callverify_lookup_limiter_keys",
				Help: "Client addresses the in-memory LookupNumber limiter holds.",
			}, func() float64 { return float64(mem.Len()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "callverify_lookup_limiter_evictions_total",
				Help: "Client addresses evicted from the full LookupNumber limiter (least recently seen first).",
			}, func() float64 { return float64(mem.Evicted()) }),
		)
	}
	global := e.LookupGlobalLimiter
	if global == nil {
		// The instance-wide bucket has one key, so it needs no sweeping.
		mem, err := ratelimit.NewMemory(ratelimit.MemoryConfig{
			Rate: e.LookupGlobalRate, Burst: e.LookupGlobalBurst, MaxKeys: 1, Now: e.Now,
		})
		if err != nil {
			return nil, err
		}
		global = mem
	}
	l := &lookupLimits{
		perClient: perClient,
		global:    global,
		proxies:   e.TrustedProxies,
		log:       cfg.Logger,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_lookup_refused_total",
			Help: "Anonymous lookups refused, by reason: client (its own limit), global (the cap of all clients), error (the limiter failed).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"client", "global", "error"} {
		l.refused.WithLabelValues(r)
	}
	s.registry.MustRegister(l.refused)
	return l, nil
}

// clientKey is the limiter key of the caller.
func (l *lookupLimits) clientKey(ctx context.Context) string {
	a := clientIP(ctx, l.proxies)
	if !a.IsValid() {
		// Every caller whose address is unknown shares one bucket.
		return "lookup:unknown"
	}
	return "lookup:" + netlimit.Key(a)
}

// allow spends a token of the caller's bucket, then one of all clients'
// (a caller refused by its own limit spends nothing of the shared one).
// A limiter that fails refuses: anonymous lookups are never unlimited.
func (l *lookupLimits) allow(ctx context.Context) error {
	for _, b := range []struct {
		lim    ratelimit.Limiter
		key    string
		reason string
	}{
		{l.perClient, l.clientKey(ctx), "client"},
		{l.global, globalKey, "global"},
	} {
		ok, retry, err := b.lim.Allow(ctx, b.key)
		if err != nil {
			l.log.ErrorContext(ctx, "lookup limiter failed; refusing", "limit", b.reason, "error", err)
			l.refused.WithLabelValues("error").Inc()
			return status.Error(codes.Unavailable, defaultMessages[codes.Unavailable])
		}
		if !ok {
			l.refused.WithLabelValues(b.reason).Inc()
			secs := int64((retry + time.Second - 1) / time.Second)
			_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.FormatInt(max(secs, 1), 10)))
			return status.Error(codes.ResourceExhausted, defaultMessages[codes.ResourceExhausted])
		}
	}
	return nil
}
