package server

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerStatusMetrics exports what the instance is (its build) and the
// state of what it depends on: the store as the health probe last found
// it, and the callbacks waiting in the shared queue.
func (s *Server) registerStatusMetrics() {
	version, revision := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				revision = kv.Value
			}
		}
	}
	s.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "callverify_build_info",
			Help:        "Always 1; its labels say which build runs: module version, VCS revision (empty when built without VCS information), Go version.",
			ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": runtime.Version()},
		}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_store_up",
			Help: "1 when the store answered the last health probe (every 2s), 0 when it did not.",
		}, func() float64 {
			if s.storeUp.Load() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callverify_store_probe_failures_total",
			Help: "Health probes of the store that failed.",
		}, func() float64 { return float64(s.storeProbeFailures.Load()) }),
	)
	if cb := s.deps.Callbacks; cb != nil {
		s.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_callbacks_waiting",
			Help: "Callback requests waiting in the queue (open or claimed), counted in the store at each scrape (NaN when it cannot be read).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, err := cb.CountWaiting(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}))
	}
}
