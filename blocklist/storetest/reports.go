package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

var lim = blocklist.ReportLimits{MaxPerDay: 100, Notes: 3}

func report(caller phone.Number, note string, at time.Time) blocklist.Report {
	return blocklist.Report{CallerNumber: caller, Note: note, OccurTime: at.Add(-time.Minute), CreateTime: at}
}

func customer(i int) phone.Number { return phone.Number(fmt.Sprintf("+86139%08d", i)) }

func mustReport(t *testing.T, s blocklist.Store, r blocklist.Report, by phone.Number, l blocklist.ReportLimits) blocklist.ReportedNumber {
	t.Helper()
	_, g, err := s.AddReport(context.Background(), r, by, l, ev("report.create"))
	if err != nil {
		t.Fatalf("AddReport: %v", err)
	}
	return g
}

func testReports(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	const caller = phone.Number("+8617012345678")
	if _, err := s.GetReportedNumber(ctx, caller); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("GetReportedNumber before any report: %v, want ErrNotFound", err)
	}
	r, g, err := s.AddReport(ctx, report(caller, "said he was customer service", t0), customer(1), lim, ev("report.create"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Note != "said he was customer service" || r.CallerNumber != caller {
		t.Errorf("AddReport returned %+v", r)
	}
	if g.ReportCount != 1 || g.DistinctReporters != 1 || g.Status != blocklist.ReportOpen ||
		!g.FirstReportTime.Equal(t0) || !g.LastReportTime.Equal(t0) {
		t.Errorf("group after one report = %+v", g)
	}
	// The same customer again: more reports, not more reporters.
	t1 := t0.Add(time.Hour)
	r2, g, _ := s.AddReport(ctx, report(caller, "called again", t1), customer(1), lim, ev("report.create"))
	if r2.ID == r.ID {
		t.Errorf("two reports share ID %s", r.ID)
	}
	if g.ReportCount != 2 || g.DistinctReporters != 1 || !g.FirstReportTime.Equal(t0) || !g.LastReportTime.Equal(t1) {
		t.Errorf("group after a repeat report = %+v, want 2 reports by 1 reporter", g)
	}
	for i := 2; i <= 4; i++ {
		g = mustReport(t, s, report(caller, fmt.Sprint("note ", i), t1.Add(time.Duration(i)*time.Minute)), customer(i), lim)
	}
	mustReport(t, s, report(caller, "", t1.Add(10*time.Minute)), customer(5), lim) // no note
	g, err = s.GetReportedNumber(ctx, caller)
	if err != nil {
		t.Fatal(err)
	}
	if g.ReportCount != 6 || g.DistinctReporters != 5 {
		t.Errorf("group = %d reports by %d reporters, want 6 by 5", g.ReportCount, g.DistinctReporters)
	}
	if got, want := fmt.Sprint(g.Notes), "[note 4 note 3 note 2]"; got != want {
		t.Errorf("notes = %s, want the %d most recent, newest first: %s", got, lim.Notes, want)
	}

	// RecentReporters counts the distinct reporters whose latest report is
	// within the window.
	w := blocklist.ReportLimits{MaxPerDay: 100, Notes: 3, Window: 24 * time.Hour}
	const other = phone.Number("+8617099990000")
	if g := mustReport(t, s, report(other, "", t0), customer(1), w); g.RecentReporters != 1 {
		t.Errorf("RecentReporters = %d after one report, want 1", g.RecentReporters)
	}
	mustReport(t, s, report(other, "", t0.Add(30*time.Hour)), customer(2), w)
	if g := mustReport(t, s, report(other, "", t0.Add(31*time.Hour)), customer(3), w); g.RecentReporters != 2 || g.DistinctReporters != 3 {
		t.Errorf("RecentReporters = %d of %d, want 2 of 3 (the first report is older than the window)", g.RecentReporters, g.DistinctReporters)
	}
	if g := mustReport(t, s, report(other, "", t0.Add(32*time.Hour)), customer(1), w); g.RecentReporters != 3 || g.DistinctReporters != 3 {
		t.Errorf("RecentReporters = %d of %d after the first reporter came back, want 3 of 3", g.RecentReporters, g.DistinctReporters)
	}
}

func testReportsDailyLimit(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	l := blocklist.ReportLimits{MaxPerDay: 3, Notes: 5}
	day := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	for i := range 3 {
		mustReport(t, s, report(phone.Number(fmt.Sprintf("+8617000000%03d", i)), "", day.Add(time.Duration(i)*time.Hour)), customer(1), l)
	}
	_, _, err := s.AddReport(ctx, report("+8617000000999", "", day.Add(20*time.Hour)), customer(1), l, ev("report.create"))
	if !errors.Is(err, fault.ErrResourceExhausted) {
		t.Errorf("fourth report of the day: err = %v, want ErrResourceExhausted", err)
	}
	if _, err := s.GetReportedNumber(ctx, "+8617000000999"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("the refused report was recorded: %v", err)
	}
	// Another customer is not affected; the next UTC day starts afresh.
	mustReport(t, s, report("+8617000000999", "", day.Add(20*time.Hour)), customer(2), l)
	mustReport(t, s, report("+8617000000999", "", day.Add(24*time.Hour)), customer(1), l)
}

// testReportsConcurrent: many customers reporting one number at once are
// each counted once.
func testReportsConcurrent(t *testing.T, s blocklist.Store) {
	const caller = phone.Number("+8617012345678")
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		for range 2 {
			go func() {
				defer wg.Done()
				if _, _, err := s.AddReport(context.Background(), report(caller, "", t0), customer(i), lim, ev("report.create")); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	g, err := s.GetReportedNumber(context.Background(), caller)
	if err != nil {
		t.Fatal(err)
	}
	if g.ReportCount != 2*n || g.DistinctReporters != n {
		t.Errorf("group = %d reports by %d reporters, want %d by %d", g.ReportCount, g.DistinctReporters, 2*n, n)
	}
}

func testReportsList(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	counts := map[phone.Number]int{"+8617000000001": 2, "+8617000000002": 5, "+8617000000003": 1, "+8617000000004": 3}
	for num, c := range counts {
		for i := range c {
			mustReport(t, s, report(num, "", t0), customer(i), lim)
		}
	}
	if _, _, _, err := s.ResolveReportedNumber(ctx, "+8617000000002", blocklist.ReportDismissed, nil, t0, ev("reported_number.resolve")); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.ListReportedNumbers(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page {
			got = append(got, fmt.Sprintf("%s:%d:%s", g.CallerNumber, g.ReportCount, g.Status))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := "[+8617000000004:3:REPORT_STATUS_OPEN +8617000000001:2:REPORT_STATUS_OPEN +8617000000003:1:REPORT_STATUS_OPEN +8617000000002:5:REPORT_STATUS_DISMISSED]"
	if fmt.Sprint(got) != want {
		t.Errorf("ListReportedNumbers = %v, want open first and busiest first: %s", got, want)
	}
	// A new report reopens a dismissed number, and it moves to the top.
	g := mustReport(t, s, report("+8617000000002", "", t0.Add(time.Hour)), customer(9), lim)
	if g.Status != blocklist.ReportOpen || g.ReportCount != 6 {
		t.Errorf("report on a dismissed number: group = %+v, want OPEN with 6 reports", g)
	}
	page, _, _ := s.ListReportedNumbers(ctx, "", 1)
	if len(page) != 1 || page[0].CallerNumber != "+8617000000002" {
		t.Errorf("first listed after the reopening = %v, want +8617000000002", page)
	}
}

func testReportsResolve(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	if _, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionInboundOnly), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []phone.Number{"+8617000000001", "+8617000000002", "+8695188", "+8617000000004"} {
		mustReport(t, s, report(n, "", t0), customer(1), lim)
	}
	block := func(n phone.Number) *blocklist.Entry {
		e := entry(n.String(), blocklist.CategoryScam)
		e.Source = blocklist.SourceCustomerReports
		return &e
	}
	if _, _, _, err := s.ResolveReportedNumber(ctx, "+8617099999999", blocklist.ReportDismissed, nil, t0, ev("reported_number.resolve")); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("resolving an unreported number: err = %v, want ErrNotFound", err)
	}

	g, e, chs, err := s.ResolveReportedNumber(ctx, "+8617000000001", blocklist.ReportBlocked, block("+8617000000001"), t0, ev("reported_number.resolve"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != blocklist.ReportBlocked || e.ID == "" || g.EntryID != e.ID || e.Source != blocklist.SourceCustomerReports {
		t.Errorf("BLOCK returned group %+v entry %+v", g, e)
	}
	if len(chs) != 1 || chs[0].Op != blocklist.ChangePut || chs[0].Entry.Pattern != "+8617000000001" {
		t.Errorf("BLOCK changes = %+v, want one put", chs)
	}
	if stored, err := s.GetEntryByPattern(ctx, "+8617000000001"); err != nil || stored.ID != e.ID {
		t.Errorf("BLOCK entry not stored: %+v %v", stored, err)
	}
	if _, _, _, err := s.ResolveReportedNumber(ctx, "+8617000000001", blocklist.ReportDismissed, nil, t0, ev("reported_number.resolve")); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("resolving a closed group: err = %v, want ErrFailedPrecondition", err)
	}

	g, _, chs, err = s.ResolveReportedNumber(ctx, "+8617000000002", blocklist.ReportDismissed, nil, t0, ev("reported_number.resolve"))
	if err != nil || g.Status != blocklist.ReportDismissed || len(chs) != 0 {
		t.Errorf("DISMISS = %+v, %d changes, %v", g, len(chs), err)
	}

	// An official number cannot be blocked; the group stays open.
	_, _, _, err = s.ResolveReportedNumber(ctx, "+8695188", blocklist.ReportBlocked, block("+8695188"), t0, ev("reported_number.resolve"))
	if !isConflict(err, "+8695188") {
		t.Errorf("BLOCK of an official number: err = %v, want ConflictError", err)
	}
	if g, _ := s.GetReportedNumber(ctx, "+8695188"); g.Status != blocklist.ReportOpen {
		t.Errorf("after a refused BLOCK the group is %s, want OPEN", g.Status)
	}

	// A number blocked already keeps its entry.
	pre := mustCreate(t, s, entry("+8617000000004", blocklist.CategoryImpersonation))
	g, e, chs, err = s.ResolveReportedNumber(ctx, "+8617000000004", blocklist.ReportBlocked, block("+8617000000004"), t0, ev("reported_number.resolve"))
	if err != nil || e.ID != pre.ID || g.EntryID != pre.ID || len(chs) != 0 || e.Category != blocklist.CategoryImpersonation {
		t.Errorf("BLOCK of a blocked number = %+v, %+v, %d changes, %v; want the existing entry", g, e, len(chs), err)
	}
}
