package retention_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/clocktest"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/retention"
	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/verify"
)

type env struct {
	calls   *boltstore.VerifyStore
	reports *boltstore.BlocklistStore
	audit   *boltstore.AuditStore
	clock   *clocktest.Clock
	sweeper *retention.Sweeper
}

const hotline = phone.Number("+8695188")

func newEnv(t *testing.T, batch int) env {
	t.Helper()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := env{clock: clocktest.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
	if e.audit, err = boltstore.NewAuditStore(db); err != nil {
		t.Fatal(err)
	}
	if e.reports, err = boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if e.calls, err = boltstore.NewVerifyStore(db); err != nil {
		t.Fatal(err)
	}
	o := blocklist.OfficialNumber{Number: hotline, DisplayName: "Support", Direction: blocklist.DirectionOutbound}
	if _, err := e.reports.CreateOfficialNumber(context.Background(), o, e.clock.Now(), audit.Event{}); err != nil {
		t.Fatal(err)
	}
	e.sweeper, err = retention.New(retention.Config{
		Kinds: []retention.Kind{
			{Name: "calls", Action: "call.prune", Retention: 7 * 24 * time.Hour, Prune: e.calls.PruneCalls},
			{Name: "reports", Action: "report.prune", Retention: 90 * 24 * time.Hour, Prune: e.reports.PruneReports},
		},
		Interval: time.Hour, Batch: batch, Now: e.clock.Now, Audit: audit.NewRecorder(e.audit, e.clock.Now),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e env) stamp(t *testing.T, id string, ttl time.Duration) {
	t.Helper()
	now := e.clock.Now()
	c := verify.Call{ID: id, Caller: hotline, Callee: "+8613800138000", State: verify.StateActive, CreateTime: now, ExpireTime: now.Add(ttl)}
	if err := e.calls.CreateCall(context.Background(), c, audit.Event{Action: "call.stamp"}); err != nil {
		t.Fatal(err)
	}
}

// A sweep works through a backlog in bounded steps: five old calls with
// batches of two take three steps, and every step that deleted anything is
// one system event.
func TestASweepPrunesInBoundedStepsAndRecordsEachAsTheSystem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	ctx := context.Background()
	for i := range 5 {
		e.stamp(t, fmt.Sprint("old-", i), 10*time.Minute)
	}
	r := blocklist.Report{CallerNumber: "+8617012345678", OccurTime: e.clock.Now(), CreateTime: e.clock.Now()}
	if _, _, err := e.reports.AddReport(ctx, r, "+8613912345678", blocklist.ReportLimits{MaxPerDay: 5}, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(7*24*time.Hour + 10*time.Minute) // the calls' retention has just begun to run out
	e.stamp(t, "live", 10*time.Minute)
	if got := e.sweeper.Sweep(ctx); got["calls"] != 0 || got["reports"] != 0 {
		t.Fatalf("sweep at the edge of the retention = %v, want nothing pruned", got)
	}
	e.clock.Advance(time.Second)
	if got := e.sweeper.Sweep(ctx); got["calls"] != 5 || got["reports"] != 0 {
		t.Fatalf("sweep past the calls' retention = %v, want 5 calls and no reports", got)
	}
	for i := range 5 {
		if _, err := e.calls.GetCall(ctx, fmt.Sprint("old-", i)); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("old-%d after the sweep: %v, want NotFound", i, err)
		}
	}
	if _, err := e.calls.GetCall(ctx, "live"); err != nil {
		t.Errorf("the live call after the sweep: %v", err)
	}
	evs, _, err := e.audit.ListAuditEvents(ctx, audit.Filter{Action: "call.prune"}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var counts []any
	for _, ev := range evs {
		counts = append(counts, ev.After["pruned_calls"])
		if ev.Actor != audit.System.Subject || ev.Role != audit.System.Role || ev.After["retention"] != "168h0m0s" {
			t.Errorf("prune event %+v, want the system's with the retention", ev)
		}
	}
	if got, want := fmt.Sprint(counts), "[1 2 2]"; got != want { // newest first
		t.Errorf("call.prune events count %s, want %s: one per step that deleted any", got, want)
	}

	e.clock.Advance(90 * 24 * time.Hour)
	if got := e.sweeper.Sweep(ctx); got["reports"] != 3 || got["calls"] != 1 {
		t.Errorf("sweep past the reports' retention = %v, want the record, its group and the reporter's day, and the live call now old", got)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.sweeper.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()+"/"+m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	// Every kind shows its failures, zero here.
	if want := map[string]float64{"callverify_retention_pruned_total/calls": 6, "callverify_retention_pruned_total/reports": 3,
		"callverify_retention_failures_total/calls": 0, "callverify_retention_failures_total/reports": 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics = %v, want %v", got, want)
	}
}

// Run sweeps at once, and returns when its context ends.
func TestRunSweepsAtOnceAndStopsWithItsContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100)
	e.stamp(t, "old", time.Minute)
	e.clock.Advance(30 * 24 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.sweeper.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for {
		if _, err := e.calls.GetCall(context.Background(), "old"); errors.Is(err, fault.ErrNotFound) {
			break
		}
		select {
		case <-deadline:
			t.Fatal("Run did not sweep at start")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
