package redisconn

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Metrics times every command the client sends to Redis and counts those
// that fail, by command name (a script is "evalsha"; a pipeline is
// "pipeline"): the store's latency and errors as the service sees them.
// Add it with AddMetrics; register its Collectors.
type Metrics struct {
	latency *prometheus.HistogramVec
	errs    *prometheus.CounterVec
	// perCmd caches each command's observer and error counter.
	perCmd sync.Map
}

type cmdMetrics struct {
	latency prometheus.Observer
	errs    prometheus.Counter
}

// AddMetrics adds a Metrics hook to c and returns it.
func AddMetrics(c redis.UniversalClient) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callverify_redis_command_duration_seconds",
			Help:    "Latency of Redis commands as the client sees them (round trip included), by command; a script is evalsha, a pipeline is pipeline.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"command"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_redis_command_errors_total",
			Help: "Redis commands that failed (network, timeout, or an error reply; not a missing key, not a script to load), by command.",
		}, []string{"command"}),
	}
	// The ones every instance sends, so that a zero shows.
	for _, name := range []string{"evalsha", "pipeline", "ping"} {
		m.forCmd(name)
	}
	c.AddHook(m)
	return m
}

// Collectors are the metrics, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.latency, m.errs}
}

func (m *Metrics) forCmd(name string) *cmdMetrics {
	if c, ok := m.perCmd.Load(name); ok {
		return c.(*cmdMetrics)
	}
	c, _ := m.perCmd.LoadOrStore(name, &cmdMetrics{latency: m.latency.WithLabelValues(name), errs: m.errs.WithLabelValues(name)})
	return c.(*cmdMetrics)
}

// failed reports whether err is a failure worth counting: redis.Nil is an
// answer ("no such key"), and NOSCRIPT only makes go-redis load the script
// and run it again.
func failed(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// DialHook implements redis.Hook.
func (m *Metrics) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (m *Metrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		c := m.forCmd(cmd.Name())
		c.latency.Observe(time.Since(start).Seconds())
		if failed(err) {
			c.errs.Inc()
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (m *Metrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		c := m.forCmd("pipeline")
		c.latency.Observe(time.Since(start).Seconds())
		if failed(err) {
			c.errs.Inc()
		}
		return err
	}
}
