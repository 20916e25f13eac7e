package blocklist_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
)

const scammer = "+8617012345678"

func custNumber(i int) string { return fmt.Sprintf("+86139%08d", i) }

func TestReportsGroupPerNumberAndCountReportersOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for i, note := range []string{"said he was from customer service", "asked for my card number", "refund scam"} {
		if _, err := e.svc.ReportCaller(ctx, custNumber(i), "170 1234 5678", note, time.Time{}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
	}
	// The first customer reports again: a report, not a reporter.
	r, err := e.svc.ReportCaller(ctx, custNumber(0), scammer, "again", t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.CallerNumber != scammer || !r.OccurTime.Equal(t0) {
		t.Errorf("report = %+v", r)
	}
	if _, err := e.svc.ReportCaller(ctx, custNumber(5), "+8613800138000", "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	list, next, err := e.svc.ListReportedNumbers(ctx, 10, "")
	if err != nil || next != "" || len(list) != 2 {
		t.Fatalf("ListReportedNumbers = %+v, %q, %v", list, next, err)
	}
	g := list[0]
	if g.CallerNumber != scammer || g.ReportCount != 4 || g.DistinctReporters != 3 || g.Status != blocklist.ReportOpen {
		t.Errorf("busiest group = %+v, want %s with 4 reports by 3 customers, open", g, scammer)
	}
	if !g.FirstReportTime.Equal(t0) || !g.LastReportTime.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("first/last = %v / %v", g.FirstReportTime, g.LastReportTime)
	}
	if got := strings.Join(g.Notes, "|"); got != "again|refund scam|asked for my card number|said he was from customer service" {
		t.Errorf("notes newest first = %q", got)
	}
	// Every report is recorded with its step, and the record names the
	// reporting customer only masked.
	evs := e.events(t, "")
	if len(evs) != 5 {
		t.Fatalf("%d audit events, want one per report (5): %+v", len(evs), evs)
	}
	for _, ev := range evs {
		if ev.Action != "report.create" || ev.Role != "customer" || !contains(ev.Actor, "****") {
			t.Errorf("report event = %+v, want report.create by a masked customer", ev)
		}
		if all := fmt.Sprintf("%+v", ev); contains(all, "13900000000") || contains(all, "13900000001") || contains(all, "13900000002") {
			t.Errorf("a report event names a reporter: %s", all)
		}
	}
}

func TestReportCallerRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	tests := []struct {
		name     string
		reporter string
		caller   string
		note     string
		occur    time.Time
		kind     error
		frag     string
	}{
		{"caller not a number", custNumber(1), "call me", "", time.Time{}, fault.ErrInvalidArgument, "caller_number"},
		{"note too long", custNumber(1), scammer, strings.Repeat("x", 501), time.Time{}, fault.ErrInvalidArgument, "note"},
		{"call in the future", custNumber(1), scammer, "", t0.Add(time.Hour), fault.ErrInvalidArgument, "occur_time"},
		{"call long ago", custNumber(1), scammer, "", t0.AddDate(0, -4, 0), fault.ErrInvalidArgument, "occur_time"},
		{"customer without a number", "", scammer, "", time.Time{}, fault.ErrPermissionDenied, "phone number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.ReportCaller(ctx, tt.reporter, tt.caller, tt.note, tt.occur)
			wantFault(t, err, tt.kind, tt.frag)
		})
	}
}

func TestReportsPerCustomerAreLimitedPerDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, func(c *blocklist.Config) { c.MaxReportsPerDay = 2 })
	for i := range 2 {
		if _, err := e.svc.ReportCaller(ctx, custNumber(1), fmt.Sprintf("+861701234567%d", i), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.svc.ReportCaller(ctx, custNumber(1), scammer, "", time.Time{})
	wantFault(t, err, fault.ErrResourceExhausted, "tomorrow")
	e.clock.Advance(24 * time.Hour)
	if _, err := e.svc.ReportCaller(ctx, custNumber(1), scammer, "", time.Time{}); err != nil {
		t.Errorf("next day: %v", err)
	}
}

func TestResolveBlockCreatesAnEntryAndClosesTheGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for i := range 3 {
		if _, err := e.svc.ReportCaller(ctx, custNumber(i), scammer, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := e.svc.ResolveReportedNumber(ctx, analyst, scammer, blocklist.ResolveBlock, blocklist.CategoryUnspecified, "")
	wantFault(t, err, fault.ErrInvalidArgument, "category")
	_, _, err = e.svc.ResolveReportedNumber(ctx, analyst, scammer, blocklist.ResolveUnspecified, blocklist.CategoryScam, "")
	wantFault(t, err, fault.ErrInvalidArgument, "action")

	g, en, err := e.svc.ResolveReportedNumber(ctx, analyst, "170-1234-5678", blocklist.ResolveBlock, blocklist.CategoryImpersonation, "posed as customer service")
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != blocklist.ReportBlocked || g.EntryID != en.ID {
		t.Errorf("group = %+v", g)
	}
	if en.Pattern != scammer || en.Source != blocklist.SourceCustomerReports || en.CreateBy != analyst.Subject ||
		en.Category != blocklist.CategoryImpersonation || en.Reason != "posed as customer service" {
		t.Errorf("entry = %+v", en)
	}
	if got, ok := e.svc.Match(scammer); !ok || got.Category != blocklist.CategoryImpersonation {
		t.Errorf("Match after BLOCK = %+v %v", got, ok)
	}
	_, _, err = e.svc.ResolveReportedNumber(ctx, analyst, scammer, blocklist.ResolveDismiss, 0, "")
	wantFault(t, err, fault.ErrFailedPrecondition, "resolved already")
	_, _, err = e.svc.ResolveReportedNumber(ctx, analyst, "+8613800138000", blocklist.ResolveDismiss, 0, "")
	wantFault(t, err, fault.ErrNotFound, "reported")

	evs := e.events(t, "reported_number.block")
	if len(evs) != 1 || evs[0].Target != scammer || evs[0].Before["status"] != "REPORT_STATUS_OPEN" ||
		evs[0].After["status"] != "REPORT_STATUS_BLOCKED" || evs[0].Actor != analyst.Subject {
		t.Errorf("block events = %+v", evs)
	}
}

func TestResolveDismissClosesAndANewReportReopens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.ReportCaller(ctx, custNumber(1), scammer, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	g, en, err := e.svc.ResolveReportedNumber(ctx, analyst, scammer, blocklist.ResolveDismiss, 0, "")
	if err != nil || g.Status != blocklist.ReportDismissed || en.ID != "" {
		t.Fatalf("DISMISS = %+v %+v %v", g, en, err)
	}
	if _, ok := e.svc.Match(scammer); ok {
		t.Error("a dismissed number is blocked")
	}
	if _, err := e.svc.ReportCaller(ctx, custNumber(2), scammer, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	list, _, _ := e.svc.ListReportedNumbers(ctx, 10, "")
	if len(list) != 1 || list[0].Status != blocklist.ReportOpen || list[0].DistinctReporters != 2 {
		t.Errorf("after a new report: %+v, want the group open again with 2 reporters", list)
	}
	if len(e.events(t, "reported_number.dismiss")) != 1 {
		t.Error("DISMISS was not audited")
	}
}

func TestResolveBlockOfAnOfficialNumberIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateOfficialNumber(ctx, admin, "95188", blocklist.OfficialNumber{DisplayName: "Hotline", Direction: blocklist.DirectionInboundOnly}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ReportCaller(ctx, custNumber(1), "95188", "they asked for my password", time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.svc.ResolveReportedNumber(ctx, analyst, "95188", blocklist.ResolveBlock, blocklist.CategoryImpersonation, "")
	wantFault(t, err, fault.ErrFailedPrecondition, "official number")
}

func TestAutoBlockIsOffByDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for i := range 50 {
		if _, err := e.svc.ReportCaller(ctx, custNumber(i), scammer, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := e.svc.Match(scammer); ok {
		t.Error("50 reports blocked a number with auto-block off")
	}
}

func TestAutoBlockNeedsDistinctReportersWithinTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, func(c *blocklist.Config) {
		c.AutoBlock = blocklist.AutoBlock{Reporters: 3, Window: 7 * 24 * time.Hour}
	})
	report := func(i int) {
		t.Helper()
		if _, err := e.svc.ReportCaller(ctx, custNumber(i), scammer, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	report(1)
	e.clock.Advance(8 * 24 * time.Hour) // the first report leaves the window
	report(2)
	report(2) // the same customer twice is one reporter
	report(3)
	if _, ok := e.svc.Match(scammer); ok {
		t.Fatal("blocked with 2 distinct reporters in the window")
	}
	report(4)
	got, ok := e.svc.Match(scammer)
	if !ok || got.Category != blocklist.CategoryScam || got.Source != blocklist.SourceCustomerReports {
		t.Fatalf("after the third reporter in the window: %+v %v, want an auto-blocked SCAM entry", got, ok)
	}
	list, _, _ := e.svc.ListReportedNumbers(ctx, 10, "")
	if len(list) != 1 || list[0].Status != blocklist.ReportBlocked {
		t.Errorf("group = %+v, want BLOCKED", list)
	}
	evs := e.events(t, "reported_number.block")
	if len(evs) != 1 || evs[0].Role != "system" {
		t.Errorf("auto-block events = %+v, want one by the system", evs)
	}
	report(5) // more reports after the block change nothing
	if n, _ := e.store.CountEntries(ctx, blocklist.EntryFilter{}); n != 1 {
		t.Errorf("%d entries after further reports, want 1", n)
	}
}

// TestResolveBlockRenewsAnExpiredEntryOfThatNumber: BLOCK on a number whose
// exact entry has expired must make it match again, under the same id.
func TestResolveBlockRenewsAnExpiredEntryOfThatNumber(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	old, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{
		Pattern: scammer, Category: blocklist.CategorySpam, Confidence: 50, ExpireTime: e.clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, ok := e.svc.Match(scammer); ok {
		t.Fatal("the expired entry still matches")
	}
	if _, err := e.svc.ReportCaller(ctx, custNumber(1), scammer, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, en, err := e.svc.ResolveReportedNumber(ctx, analyst, scammer, blocklist.ResolveBlock, blocklist.CategoryImpersonation, "reported again")
	if err != nil {
		t.Fatal(err)
	}
	if en.ID != old.ID || !en.ExpireTime.IsZero() || en.Category != blocklist.CategoryImpersonation {
		t.Errorf("entry after BLOCK = %+v, want %s renewed without expiry", en, old.ID)
	}
	if got, ok := e.svc.Match(scammer); !ok || got.Category != blocklist.CategoryImpersonation {
		t.Errorf("Match after BLOCK = %+v %v, want the renewed block", got, ok)
	}
	if _, _, total, err := e.svc.ListEntries(ctx, blocklist.EntryFilter{}, 10, ""); err != nil || total != 1 {
		t.Errorf("ListEntries total = %d (%v), want 1", total, err)
	}
}
