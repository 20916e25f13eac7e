package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

// RunAudit runs the part of the suite that proves every mutation and its
// audit event commit together, and that a refused one records nothing.
// newStores returns an empty blocklist store and the audit store its events
// are appended to.
func RunAudit(t *testing.T, newStores func(t *testing.T) (blocklist.Store, audit.Store)) {
	t.Helper()
	t.Run("AuditEntryWrites", func(t *testing.T) { t.Parallel(); s, a := newStores(t); testAuditEntryWrites(t, s, a) })
	t.Run("AuditImportBatch", func(t *testing.T) { t.Parallel(); s, a := newStores(t); testAuditImportBatch(t, s, a) })
	t.Run("AuditReports", func(t *testing.T) { t.Parallel(); s, a := newStores(t); testAuditReports(t, s, a) })
	t.Run("AuditPruneReports", func(t *testing.T) { t.Parallel(); s, a := newStores(t); testAuditPruneReports(t, s, a) })
	// A store that commits several import batches at once must make of
	// them exactly what ImportEntries makes of each, in order.
	if s, _ := newStores(t); isBatchImporter(s) {
		t.Run("AuditImportBatches", func(t *testing.T) { t.Parallel(); s, a := newStores(t); testAuditImportBatches(t, s, a) })
	}
}

func isBatchImporter(s blocklist.Store) bool { _, ok := s.(blocklist.BatchImporter); return ok }

func testAuditImportBatches(t *testing.T, s blocklist.Store, a audit.Store) {
	ctx := context.Background()
	bi := s.(blocklist.BatchImporter)
	if _, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionInboundOnly), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	row := func(p string, c blocklist.Category) blocklist.Entry {
		e := entry(p, c)
		e.Source, e.CreateBy, e.CreateTime, e.UpdateTime = blocklist.SourceImport, "importer", t1, t1
		return e
	}
	batchEv := func(n int) audit.Event {
		e := ev("entry.import")
		e.After = map[string]any{"batch": n}
		return e
	}
	batches := []blocklist.ImportBatchInput{
		{Entries: []blocklist.Entry{row("+86170*", blocklist.CategorySpam), row("+8613800138000", blocklist.CategoryScam)}, Event: batchEv(1)},
		// The second batch sees the first: its row of +86170* updates it.
		{Entries: []blocklist.Entry{row("+86170*", blocklist.CategoryRobocall), row("+8695188", blocklist.CategoryScam),
			row("+8615000150000", blocklist.CategoryScam)}, Event: batchEv(2)},
		{Event: batchEv(3)}, // empty: its event is still the record of that part
	}
	res, err := bi.ImportEntryBatches(ctx, batches, t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results for 3 batches", len(res))
	}
	var got []string
	var seqs []uint64
	for _, r := range res {
		var rs []string
		for _, o := range r.Outcomes {
			rs = append(rs, fmt.Sprint(o.Result))
		}
		got = append(got, fmt.Sprint(rs))
		for _, c := range r.Changes {
			seqs = append(seqs, c.Seq)
		}
	}
	// 1 created, 2 updated, 4 refused.
	if want := "[[1 1] [2 4 1] []]"; fmt.Sprint(got) != want {
		t.Errorf("outcomes per batch = %v, want %s", got, want)
	}
	if len(seqs) != 4 || seqs[1] != seqs[0]+1 || seqs[2] != seqs[1]+1 || seqs[3] != seqs[2]+1 {
		t.Errorf("changes numbered %v, want 4 consecutive", seqs)
	}
	if e, _ := s.GetEntryByPattern(ctx, "+86170*"); e.Category != blocklist.CategoryRobocall {
		t.Errorf("+86170* = %s, want the second batch's ROBOCALL", e.Category)
	}
	evs := events(t, a)
	var batchesSeen []string
	for _, e := range evs {
		if e.Action == "entry.import" {
			batchesSeen = append(batchesSeen, fmt.Sprint(e.After["batch"], "/", e.After["created"], e.After["updated"], e.After["refused"]))
		}
	}
	if want := "[1/2 0 0 2/1 1 1 3/0 0 0]"; fmt.Sprint(batchesSeen) != want {
		t.Errorf("import events (batch / created updated refused) = %v, want %s", batchesSeen, want)
	}
}

// events returns every event of a, oldest first.
func events(t *testing.T, a audit.Store) []audit.Event {
	t.Helper()
	evs, next, err := a.ListAuditEvents(context.Background(), audit.Filter{}, 1000, "")
	if err != nil || next != "" {
		t.Fatalf("ListAuditEvents: %v (next %q)", err, next)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// wantEvents checks that a holds exactly n events and returns the last.
func wantEvents(t *testing.T, a audit.Store, n int, after string) audit.Event {
	t.Helper()
	evs := events(t, a)
	if len(evs) != n {
		t.Fatalf("after %s: %d audit events, want %d: %+v", after, len(evs), n, evs)
	}
	if n == 0 {
		return audit.Event{}
	}
	return evs[n-1]
}

func testAuditEntryWrites(t *testing.T, s blocklist.Store, a audit.Store) {
	ctx := context.Background()
	if _, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionInboundOnly), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	} // one event, counted below
	e, _, err := s.CreateEntry(ctx, entry("+86170*", blocklist.CategoryScam), t0, ev("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	got := wantEvents(t, a, 2, "CreateEntry")
	if got.Action != "entry.create" || got.Actor != "analyst-1" || got.Target != e.ID || got.Before != nil ||
		got.After["pattern"] != "+86170*" || got.After["entry_id"] != e.ID || got.ID == "" {
		t.Errorf("create event = %+v, want target %s with the entry after", got, e.ID)
	}

	// Refused writes record nothing.
	for name, err := range map[string]error{
		"duplicate CreateEntry": func() error {
			_, _, err := s.CreateEntry(ctx, entry("+86170*", blocklist.CategorySpam), t0, ev("entry.create"))
			return err
		}(),
		"CreateEntry of an official number": func() error {
			_, _, err := s.CreateEntry(ctx, entry("+8695188", blocklist.CategorySpam), t0, ev("entry.create"))
			return err
		}(),
		"UpdateEntry at a stale revision": func() error {
			next := e
			next.Reason = "stale"
			_, _, err := s.UpdateEntry(ctx, next, e.Rev+100, t0, ev("entry.update"))
			return err
		}(),
		"DeleteEntry of a missing entry": func() error {
			_, _, err := s.DeleteEntry(ctx, "nope", ev("entry.delete"))
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("%s succeeded", name)
		}
	}
	wantEvents(t, a, 2, "refused writes")

	next := e
	next.Reason = "wave 2"
	upd, _, err := s.UpdateEntry(ctx, next, e.Rev, t0.Add(time.Minute), ev("entry.update"))
	if err != nil {
		t.Fatal(err)
	}
	got = wantEvents(t, a, 3, "UpdateEntry")
	if got.Action != "entry.update" || got.Target != e.ID || got.Before["reason"] != e.Reason || got.After["reason"] != "wave 2" {
		t.Errorf("update event = %+v, want reason %q -> \"wave 2\"", got, e.Reason)
	}
	if _, _, err := s.DeleteEntry(ctx, upd.ID, ev("entry.delete")); err != nil {
		t.Fatal(err)
	}
	got = wantEvents(t, a, 4, "DeleteEntry")
	if got.Action != "entry.delete" || got.Target != e.ID || got.Before["pattern"] != "+86170*" || got.After != nil {
		t.Errorf("delete event = %+v, want the deleted entry before and nothing after", got)
	}
}

func testAuditImportBatch(t *testing.T, s blocklist.Store, a audit.Store) {
	ctx := context.Background()
	if _, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionInboundOnly), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	} // one event, counted below
	existing := mustCreate(t, s, entry("+8613800138000", blocklist.CategoryScam))
	unchanged := mustCreate(t, s, entry("+8613900139000", blocklist.CategoryScam))
	changed := existing
	changed.Category = blocklist.CategoryRobocall
	batch := []blocklist.Entry{
		entry("+86170*", blocklist.CategorySpam), // created
		changed,                                  // updated
		unchanged,                                // unchanged
		entry("+8695188", blocklist.CategoryScam), // refused
	}
	in := ev("entry.import")
	in.After = map[string]any{"import_id": "imp-1", "first_line": 2}
	if _, _, err := s.ImportEntries(ctx, batch, t0, in); err != nil {
		t.Fatal(err)
	}
	got := wantEvents(t, a, 4, "ImportEntries")
	summary := fmt.Sprintf("%v %v %v %v %v %v %v %v", got.After["import_id"], got.After["first_line"], got.After["created"], got.After["updated"],
		got.After["unchanged"], got.After["refused"], got.After["created_patterns"], got.After["updated_patterns"])
	if got.Action != "entry.import" || summary != "imp-1 2 1 1 1 1 [+86170*] [+8613800138000]" {
		t.Errorf("import event = %s (%+v), want imp-1 2 1 1 1 1 [+86170*] [+8613800138000]", summary, got)
	}
	// An empty batch still records itself: the last batch of an import
	// says the import is done.
	in.After = map[string]any{"import_id": "imp-1", "done": true}
	if _, _, err := s.ImportEntries(ctx, nil, t0, in); err != nil {
		t.Fatal(err)
	}
	if got := wantEvents(t, a, 5, "an empty ImportEntries"); got.After["done"] != true || fmt.Sprint(got.After["created"]) != "0" {
		t.Errorf("empty batch event = %+v", got)
	}
}

func testAuditReports(t *testing.T, s blocklist.Store, a audit.Store) {
	ctx := context.Background()
	const caller = "+8617012345678"
	rev := ev("report.create")
	rev.Actor, rev.Role = customer(1).Masked(), "customer"
	r, _, err := s.AddReport(ctx, report(caller, "fake refund", t0), customer(1), blocklist.ReportLimits{MaxPerDay: 1, Notes: 3}, rev)
	if err != nil {
		t.Fatal(err)
	}
	got := wantEvents(t, a, 1, "AddReport")
	if got.Action != "report.create" || got.Actor != customer(1).Masked() || got.Target != caller ||
		got.After["report_id"] != r.ID || fmt.Sprint(got.After["report_count"]) != "1" {
		t.Errorf("report event = %+v, want target %s, report %s, count 1, by the masked reporter", got, caller, r.ID)
	}
	// Over the daily allowance: refused, and no record.
	_, _, err = s.AddReport(ctx, report(caller, "again", t0.Add(time.Minute)), customer(1), blocklist.ReportLimits{MaxPerDay: 1, Notes: 3}, rev)
	if !errors.Is(err, fault.ErrResourceExhausted) {
		t.Fatalf("second report over the allowance: err = %v, want ErrResourceExhausted", err)
	}
	wantEvents(t, a, 1, "a refused AddReport")

	b := entry(caller, blocklist.CategoryScam)
	b.Source = blocklist.SourceCustomerReports
	_, e, _, err := s.ResolveReportedNumber(ctx, caller, blocklist.ReportBlocked, &b, t0, ev("reported_number.block"))
	if err != nil {
		t.Fatal(err)
	}
	got = wantEvents(t, a, 2, "ResolveReportedNumber")
	entryAfter, _ := got.After["entry"].(map[string]any)
	if got.Action != "reported_number.block" || got.Target != caller || got.Before["status"] != "REPORT_STATUS_OPEN" ||
		got.After["status"] != "REPORT_STATUS_BLOCKED" || entryAfter["entry_id"] != e.ID {
		t.Errorf("resolve event = %+v, want OPEN -> BLOCKED with entry %s", got, e.ID)
	}
	if _, _, _, err := s.ResolveReportedNumber(ctx, caller, blocklist.ReportDismissed, nil, t0, ev("reported_number.dismiss")); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Fatalf("resolving again: err = %v, want ErrFailedPrecondition", err)
	}
	wantEvents(t, a, 2, "a refused ResolveReportedNumber")
}
