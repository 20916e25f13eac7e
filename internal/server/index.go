package server

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerIndexMetrics exports the blocklist index's follower: how far it
// has read the store's change log, how stale it may be, how often it had to
// reload.
func (s *Server) registerIndexMetrics() {
	bl := s.deps.Blocklist
	if bl == nil {
		return
	}
	s.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_blocklist_index_sequence",
			Help: "Sequence number of the last blocklist change the in-memory index has applied.",
		}, func() float64 { return float64(bl.IndexStats().Seq) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_blocklist_index_entries",
			Help: "Entries the in-memory blocklist index holds, expired ones included.",
		}, func() float64 { return float64(bl.IndexStats().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_blocklist_index_lag_seconds",
			Help: "Seconds since the blocklist index was last known to hold every change in the store.",
		}, func() float64 { return bl.IndexStats().Lag.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callverify_blocklist_index_reloads_total",
			Help: "Full reloads of the blocklist index from a scan of the store (at start, after a gap in the change log, after the store failed).",
		}, func() float64 { return float64(bl.IndexStats().Reloads) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callverify_blocklist_index_read_failures_total",
			Help: "Reads of the store's change log that failed.",
		}, func() float64 { return float64(bl.IndexStats().Failures) }),
	)
}

// errIndexBehind says the index lags the store by more than IndexMaxLag.
type errIndexBehind struct{ lag, max string }

func (e errIndexBehind) Error() string {
	return fmt.Sprintf("the blocklist index is %s behind the store (at most %s)", e.lag, e.max)
}

// ready is Config.Ready, and then the blocklist index no further behind the
// store than IndexMaxLag: an instance whose index is stale would answer
// lookups and caller checks from an old blocklist.
func (s *Server) ready(ctx context.Context) error {
	if err := s.cfg.Ready(ctx); err != nil {
		return err
	}
	if bl := s.deps.Blocklist; bl != nil {
		if lag := bl.IndexStats().Lag; lag > s.cfg.IndexMaxLag {
			return errIndexBehind{lag: lag.Round(time.Millisecond).String(), max: s.cfg.IndexMaxLag.String()}
		}
	}
	return nil
}
