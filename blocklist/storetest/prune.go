package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

const reportRetention = 90 * 24 * time.Hour

// pruneAll calls PruneReports in batches of 2 until a batch comes back
// short, and returns what each batch deleted.
func pruneAll(t *testing.T, s blocklist.Store, before time.Time) []int {
	t.Helper()
	var batches []int
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatal("PruneReports keeps returning full batches")
		}
		pe := ev("report.prune")
		pe.Actor, pe.Role = audit.System.Subject, audit.System.Role
		n, err := s.PruneReports(context.Background(), before, 2, pe)
		if err != nil {
			t.Fatalf("PruneReports: %v", err)
		}
		if n < 0 || n > 2 {
			t.Fatalf("PruneReports(limit 2) = %d", n)
		}
		batches = append(batches, n)
		if n < 2 {
			return batches
		}
	}
}

// testPruneReports checks what anyone can see of retention: an OPEN or
// DISMISSED group whose last report is past the retention is gone, and a
// later report of its number starts afresh; a younger group, or one with a
// recent report, is as it was; a BLOCKED group stays blocked. Times are
// real (time.Now), so that a backend which expires groups by itself passes
// with a PruneReports that does nothing; such a backend may have dropped a
// group created past its retention before the test could resolve it, and
// then only what is left is checked.
func testPruneReports(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	before := now.Add(-reportRetention)
	day := 24 * time.Hour
	const (
		oldOpen      = phone.Number("+8617000000011")
		oldDismissed = phone.Number("+8617000000012")
		oldBlocked   = phone.Number("+8617000000013")
		young        = phone.Number("+8617000000014")
		revived      = phone.Number("+8617000000015")
	)
	mustReport(t, s, report(oldOpen, "old", now.Add(-100*day)), customer(1), lim)
	mustReport(t, s, report(oldOpen, "old", now.Add(-99*day)), customer(2), lim)
	mustReport(t, s, report(oldDismissed, "", now.Add(-95*day)), customer(1), lim)
	_, _, _, err := s.ResolveReportedNumber(ctx, oldDismissed, blocklist.ReportDismissed, nil, now.Add(-94*day), ev("reported_number.resolve"))
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		t.Fatal(err)
	}
	mustReport(t, s, report(oldBlocked, "", now.Add(-120*day)), customer(1), lim)
	block := entry(oldBlocked.String(), blocklist.CategoryScam)
	block.Source = blocklist.SourceCustomerReports
	_, blocked, _, err := s.ResolveReportedNumber(ctx, oldBlocked, blocklist.ReportBlocked, &block, now.Add(-119*day), ev("reported_number.resolve"))
	haveBlocked := err == nil
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		t.Fatal(err)
	}
	mustReport(t, s, report(young, "", before.Add(time.Hour)), customer(1), lim)
	mustReport(t, s, report(revived, "", now.Add(-200*day)), customer(1), lim)
	mustReport(t, s, report(revived, "", now.Add(-day)), customer(3), lim)

	pruneAll(t, s, before)

	for _, n := range []phone.Number{oldOpen, oldDismissed} {
		if g, err := s.GetReportedNumber(ctx, n); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("group %s past its retention: %+v, %v; want NotFound", n, g, err)
		}
	}
	want := map[phone.Number]string{young: "1:1:REPORT_STATUS_OPEN", revived: "2:2:REPORT_STATUS_OPEN"}
	if haveBlocked {
		want[oldBlocked] = "1:1:REPORT_STATUS_BLOCKED"
	}
	for n, w := range want {
		g, err := s.GetReportedNumber(ctx, n)
		if err != nil {
			t.Errorf("group %s: %v, want it kept", n, err)
			continue
		}
		if got := fmt.Sprintf("%d:%d:%s", g.ReportCount, g.DistinctReporters, g.Status); got != w {
			t.Errorf("group %s after pruning = %s, want %s (reports:reporters:status)", n, got, w)
		}
	}
	listed, _, err := s.ListReportedNumbers(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(want) {
		t.Errorf("ListReportedNumbers after pruning lists %d groups, want %d: %+v", len(listed), len(want), listed)
	}

	// A pruned number starts afresh; a blocked one stays blocked.
	g := mustReport(t, s, report(oldOpen, "", now), customer(1), lim)
	if g.ReportCount != 1 || g.DistinctReporters != 1 || g.Status != blocklist.ReportOpen {
		t.Errorf("a report of a pruned number: group %+v, want OPEN with 1 report by 1 reporter", g)
	}
	if haveBlocked {
		g = mustReport(t, s, report(oldBlocked, "", now), customer(2), lim)
		if g.Status != blocklist.ReportBlocked || g.ReportCount != 2 || g.EntryID != blocked.ID {
			t.Errorf("a report of a blocked number after pruning: group %+v, want BLOCKED by entry %s with 2 reports", g, blocked.ID)
		}
	}
	if n, err := s.PruneReports(ctx, before, 100, ev("report.prune")); err != nil || n != 0 {
		t.Errorf("PruneReports again = %d, %v; want 0", n, err)
	}
}

// testAuditPruneReports: a step that deleted anything appends one system
// event saying how much, in the same step; a step that deleted nothing
// appends none.
func testAuditPruneReports(t *testing.T, s blocklist.Store, a audit.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	before := now.Add(-reportRetention)
	for i := range 3 {
		mustReport(t, s, report(phone.Number(fmt.Sprintf("+861700000002%d", i)), "", now.Add(-100*24*time.Hour)), customer(i), lim)
	}
	mustReport(t, s, report("+8617000000030", "", now), customer(1), lim)
	had := len(events(t, a))
	batches := pruneAll(t, s, before)
	evs := events(t, a)[had:]
	var withDeletes []int
	for _, n := range batches {
		if n > 0 {
			withDeletes = append(withDeletes, n)
		}
	}
	if len(evs) != len(withDeletes) {
		t.Fatalf("%d prune events for batches %v, want one per batch that deleted anything", len(evs), batches)
	}
	for i, e := range evs {
		num := func(k string) int {
			switch v := e.After[k].(type) {
			case int:
				return v
			case float64:
				return int(v)
			}
			t.Errorf("prune event After[%q] = %#v, want a number", k, e.After[k])
			return 0
		}
		if e.Action != "report.prune" || e.Actor != audit.System.Subject || e.Role != audit.System.Role {
			t.Errorf("prune event %+v, want report.prune by %s", e, audit.System.Subject)
		}
		got := num("pruned_reports") + num("pruned_groups")
		for k := range e.After {
			if strings.HasPrefix(k, "pruned_") && k != "pruned_reports" && k != "pruned_groups" {
				got += num(k) // what else a backend keeps of reporters, e.g. daily counts
			}
		}
		if got != withDeletes[i] {
			t.Errorf("prune event %d counts %d deletions, the step returned %d", i, got, withDeletes[i])
		}
	}
}
