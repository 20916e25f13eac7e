package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callverify/callverify/internal/audit"
)

// PruneFunc is a store's prune step (verify.Store.PruneCalls,
// blocklist.Store.PruneReports): it deletes at most limit things older than
// before, appends ev completed with its counts when it deleted any, and
// returns how many it deleted.
type PruneFunc func(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error)

// Kind is one kind of thing to prune.
type Kind struct {
	// Name labels logs and metrics ("calls", "reports").
	Name string
	// Action is the audit action of a step that deleted any ("call.prune").
	Action string
	// Retention: what is older than now minus Retention goes. 0 is for a
	// step that records what fell due by now (the callbacks' expiry).
	Retention time.Duration
	Prune     PruneFunc
}

// Config is what a Sweeper needs.
type Config struct {
	Kinds []Kind
	// Interval between sweeps.
	Interval time.Duration
	// Batch bounds what one step (one store transaction) deletes.
	Batch int
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Audit  *audit.Recorder
	Logger *slog.Logger
}

// DefaultBatch is the default Config.Batch: small enough that a step takes
// the write lock for milliseconds.
const DefaultBatch = 500

// maxStepsPerSweep bounds one sweep, so that a store that keeps returning
// full batches (a backlog after a long outage) is worked through over a few
// sweeps rather than in one long burst.
const maxStepsPerSweep = 1000

// Sweeper prunes every kind, once per Interval.
type Sweeper struct {
	cfg      Config
	pruned   *prometheus.CounterVec
	failures *prometheus.CounterVec
}

// New checks cfg and returns its Sweeper.
func New(cfg Config) (*Sweeper, error) {
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("retention: interval %v is not positive", cfg.Interval)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		return nil, errors.New("retention: no audit recorder")
	}
	for _, k := range cfg.Kinds {
		if k.Retention < 0 || k.Prune == nil || k.Name == "" || k.Action == "" {
			return nil, fmt.Errorf("retention: kind %q needs a name, an action, a retention not below 0 and a prune function", k.Name)
		}
	}
	sw := &Sweeper{
		cfg: cfg,
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_retention_pruned_total",
			Help: "Records deleted by the retention sweeper, by kind (calls; reports: report records and groups).",
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_retention_failures_total",
			Help: "Retention sweeps of a kind that ended in an error (retried at the next sweep).",
		}, []string{"kind"}),
	}
	for _, k := range cfg.Kinds { // so that every kind shows a zero
		sw.pruned.WithLabelValues(k.Name)
		sw.failures.WithLabelValues(k.Name)
	}
	return sw, nil
}

// Collectors are the sweeper's metrics, for the server's registry.
func (s *Sweeper) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.pruned, s.failures}
}

// Run sweeps at once and then every Interval until ctx is done. It returns
// when ctx is done and no step is in flight.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep prunes every kind in steps of Batch until a step comes back short
// (or ctx is done), and returns how many each kind lost. An error of one
// kind is logged and counted; the other kinds are still swept.
func (s *Sweeper) Sweep(ctx context.Context) map[string]int {
	out := make(map[string]int, len(s.cfg.Kinds))
	for _, k := range s.cfg.Kinds {
		n, err := s.sweepKind(ctx, k)
		out[k.Name] = n
		s.pruned.WithLabelValues(k.Name).Add(float64(n))
		switch {
		case err != nil && ctx.Err() != nil:
			return out // shutting down
		case err != nil:
			s.failures.WithLabelValues(k.Name).Inc()
			s.cfg.Logger.Warn("retention sweep failed; retried at the next sweep", "kind", k.Name, "pruned", n, "error", err)
		case n > 0:
			s.cfg.Logger.Info("retention sweep", "kind", k.Name, "pruned", n, "retention", k.Retention.String())
		}
	}
	return out
}

func (s *Sweeper) sweepKind(ctx context.Context, k Kind) (int, error) {
	now := s.cfg.Now()
	before := now.Add(-k.Retention)
	total := 0
	for range maxStepsPerSweep {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		ev := s.cfg.Audit.Event(audit.System, k.Action, k.Name, nil, map[string]any{
			"before": before.UTC().Format(time.RFC3339), "retention": k.Retention.String(),
		})
		n, err := k.Prune(ctx, before, s.cfg.Batch, ev)
		total += n
		if err != nil {
			return total, err
		}
		if n < s.cfg.Batch {
			break
		}
	}
	return total, nil
}
