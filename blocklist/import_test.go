package blocklist_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

func importRows(t *testing.T, e *env, rows []blocklist.Entry) blocklist.ImportSummary {
	t.Helper()
	ctx := context.Background()
	im := e.svc.NewImporter(analyst)
	for _, r := range rows {
		if err := im.Add(ctx, 0, r); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := im.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestImportReportsBadRowsAndImportsTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateOfficialNumber(ctx, admin, "95188", blocklist.OfficialNumber{DisplayName: "Hotline", Direction: blocklist.DirectionInboundOnly}); err != nil {
		t.Fatal(err)
	}
	// 2,500 good rows cross two batch boundaries; bad rows are sprinkled in.
	var rows []blocklist.Entry
	bad := map[int64]string{}
	for i := range 2500 {
		rows = append(rows, blocklist.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: blocklist.CategoryScam, Confidence: 60})
		switch i {
		case 10:
			rows = append(rows, blocklist.Entry{Pattern: "+86*", Category: blocklist.CategoryScam})
			bad[int64(len(rows)-1)] = "pattern"
		case 1500:
			rows = append(rows, blocklist.Entry{Pattern: "+8613800138000"})
			bad[int64(len(rows)-1)] = "category"
		case 2100:
			rows = append(rows, blocklist.Entry{Pattern: "95188", Category: blocklist.CategoryScam})
			bad[int64(len(rows)-1)] = "+8695188"
		}
	}
	sum := importRows(t, e, rows)
	if sum.Imported != 2500 || sum.Updated != 0 || sum.Rejected != 3 {
		t.Errorf("summary = %d imported, %d updated, %d rejected; want 2500, 0, 3", sum.Imported, sum.Updated, sum.Rejected)
	}
	if len(sum.Errors) != 3 {
		t.Fatalf("errors = %+v, want 3", sum.Errors)
	}
	for _, ie := range sum.Errors {
		frag, ok := bad[ie.Index]
		if !ok || !contains(ie.Message, frag) {
			t.Errorf("error %+v: want one of the bad rows %v with its reason", ie, bad)
		}
	}
	if got, ok := e.svc.Match("+8617000002499"); !ok || got.Source != blocklist.SourceImport || got.Confidence != 60 {
		t.Errorf("imported entry matches as %+v %v", got, ok)
	}
	if n, _ := e.store.CountEntries(ctx, blocklist.EntryFilter{Source: blocklist.SourceImport}); n != 2500 {
		t.Errorf("store holds %d imported entries, want 2500", n)
	}
	// One audit event per batch, committed with it, under one import id:
	// together they account for every row; the last says the import is done.
	evs := e.events(t, "entry.import")
	if len(evs) != 3 {
		t.Fatalf("%d import events, want one per batch (3): %+v", len(evs), evs)
	}
	var created, rejected, taken float64
	for i, ev := range evs {
		a := ev.After
		created += a["created"].(float64)
		rejected += a["invalid"].(float64) + a["refused"].(float64)
		taken += a["rows"].(float64)
		if a["import_id"] != evs[0].After["import_id"] || a["import_id"] == "" {
			t.Errorf("batch events carry import ids %v and %v, want one", a["import_id"], evs[0].After["import_id"])
		}
		if done := a["done"] == true; done != (i == 0) {
			t.Errorf("event %d (batch %v) done = %v; only the last batch is done", i, a["batch"], a["done"])
		}
	}
	if got := fmt.Sprint(created, rejected, taken); got != "2500 3 2503" {
		t.Errorf("batch events add up to created, rejected, rows = %s, want 2500 3 2503", got)
	}
	// A batch is ImportBatch rows of the stream; the first holds the bad
	// row 11.
	if first := evs[2].After; fmt.Sprint(first["batch"], first["first_index"], first["last_index"], first["invalid"], len(first["created_patterns"].([]any))) != "1 0 999 1 999" {
		t.Errorf("first batch event = batch %v rows %v-%v (%v invalid) with %d created patterns, want batch 1 rows 0-999 (1 invalid) with 999",
			first["batch"], first["first_index"], first["last_index"], first["invalid"], len(first["created_patterns"].([]any)))
	}
	if len(e.events(t, "entry.create")) != 0 {
		t.Error("an import recorded per-entry events")
	}
}

func TestReimportingTheSameRowsUpdatesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	rows := []blocklist.Entry{
		{Pattern: "+86170*", Category: blocklist.CategorySpam, Reason: "range"},
		{Pattern: "138 0013 8000", Category: blocklist.CategoryScam, ExpireTime: t0.Add(24 * time.Hour)},
	}
	first := importRows(t, e, rows)
	seq := e.svc.Index().Seq()
	e.clock.Advance(time.Minute)
	second := importRows(t, e, rows)
	if first.Imported != 2 || second.Imported != 0 || second.Updated != 2 || second.Rejected != 0 {
		t.Errorf("first %+v, second %+v; want 2 imported, then 2 updated", first, second)
	}
	if e.svc.Index().Seq() != seq {
		t.Errorf("re-importing identical rows wrote %d changes", e.svc.Index().Seq()-seq)
	}
	// A changed row updates the entry in place.
	rows[0].Category = blocklist.CategoryRobocall
	importRows(t, e, rows)
	list, _, total, err := e.svc.ListEntries(ctx, blocklist.EntryFilter{}, 10, "")
	if err != nil || total != 2 {
		t.Fatalf("after three imports: %d entries, %v", total, err)
	}
	if list[1].Pattern != "+86170*" || list[1].Category != blocklist.CategoryRobocall || !list[1].UpdateTime.Equal(t0.Add(time.Minute)) {
		t.Errorf("updated row = %+v", list[1])
	}
	if got, _ := e.svc.Match("+8617000000000"); got.Category != blocklist.CategoryRobocall {
		t.Errorf("index has category %s after the update, want ROBOCALL", got.Category)
	}
}

func TestImportKeepsTheFirstThousandErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var rows []blocklist.Entry
	for range blocklist.MaxImportErrors + 50 {
		rows = append(rows, blocklist.Entry{Pattern: "nonsense", Category: blocklist.CategoryScam})
	}
	sum := importRows(t, e, rows)
	if sum.Rejected != int64(len(rows)) || len(sum.Errors) != blocklist.MaxImportErrors {
		t.Errorf("rejected %d with %d errors, want %d with %d", sum.Rejected, len(sum.Errors), len(rows), blocklist.MaxImportErrors)
	}
}

// An import whose stream breaks after a batch committed leaves that batch's
// rows and its record (lines, patterns) in the store together, and a last
// record of the rows it dropped.
func TestAbandonedImportKeepsCommittedBatchesWithTheirRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	im := e.svc.NewImporter(analyst)
	for i := range blocklist.ImportBatch + 10 {
		if err := im.Add(ctx, int64(i+2), blocklist.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: blocklist.CategoryScam}); err != nil {
			t.Fatal(err)
		}
	}
	im.Abandon(ctx, errors.New("client went away"))
	if n, _ := e.store.CountEntries(ctx, blocklist.EntryFilter{}); n != blocklist.ImportBatch {
		t.Errorf("store holds %d entries, want the one committed batch of %d", n, blocklist.ImportBatch)
	}
	evs := e.events(t, "entry.import")
	if len(evs) != 1 {
		t.Fatalf("import events = %+v, want the committed batch's", evs)
	}
	a := evs[0].After
	if got := fmt.Sprint(a["created"], a["first_line"], a["last_line"], a["done"]); got != "1000 2 1001 <nil>" {
		t.Errorf("batch event created, lines, done = %s, want 1000 2 1001 <nil>", got)
	}
	if ps := a["created_patterns"].([]any); len(ps) != 1000 || ps[0] != "+8617000000000" || ps[999] != "+8617000000999" {
		t.Errorf("batch event lists %d created patterns, want the 1000 committed", len(ps))
	}
	abort := e.events(t, "entry.import.abort")
	if len(abort) != 1 || fmt.Sprint(abort[0].After["dropped"]) != "10" || abort[0].After["import_id"] != a["import_id"] {
		t.Errorf("abort events = %+v, want one of the same import with 10 dropped", abort)
	}
	if _, err := im.Finish(ctx); err == nil {
		t.Error("Finish after Abandon succeeded")
	}
}

// Rows the client could not read are rows like any other: counted,
// reported with their index and line, and the rest are imported.
func TestImportCountsUnreadableRowsAndGoesOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	im := e.svc.NewImporter(analyst)
	if err := im.Add(ctx, 2, blocklist.Entry{Pattern: "+8617000000001", Category: blocklist.CategoryScam}); err != nil {
		t.Fatal(err)
	}
	if err := im.Reject(ctx, 3, "not an entry: syntax error\x1b[31m"); err != nil {
		t.Fatal(err)
	}
	if err := im.Add(ctx, 5, blocklist.Entry{Pattern: "+8617000000002", Category: blocklist.CategoryScam}); err != nil {
		t.Fatal(err)
	}
	sum, err := im.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 2 || sum.Rejected != 1 || len(sum.Errors) != 1 {
		t.Fatalf("summary = %+v, want 2 imported and 1 rejected", sum)
	}
	if got, want := fmt.Sprintf("%+v", sum.Errors[0]), "{Index:1 Line:3 Message:not an entry: syntax error [31m}"; got != want {
		t.Errorf("error = %s, want %s", got, want)
	}
	evs := e.events(t, "entry.import")
	if len(evs) != 1 || fmt.Sprint(evs[0].After["invalid"], evs[0].After["first_line"], evs[0].After["last_line"], evs[0].After["done"]) != "1 2 5 true" {
		t.Errorf("import events = %+v, want one done batch of lines 2-5 with 1 invalid row", evs)
	}
}

func TestExportStreamsEveryEntryInPatternOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var rows []blocklist.Entry
	for i := range 2345 {
		c := blocklist.CategoryScam
		if i%5 == 0 {
			c = blocklist.CategorySpam
		}
		rows = append(rows, blocklist.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: c})
	}
	importRows(t, e, rows)
	n, last := 0, ""
	err := e.svc.ExportEntries(ctx, blocklist.EntryFilter{}, func(en blocklist.Entry) error {
		if en.Pattern <= last {
			t.Fatalf("export out of order: %s after %s", en.Pattern, last)
		}
		last = en.Pattern
		n++
		return nil
	})
	if err != nil || n != 2345 {
		t.Errorf("exported %d entries, %v; want 2345", n, err)
	}
	spam := 0
	if err := e.svc.ExportEntries(ctx, blocklist.EntryFilter{Category: blocklist.CategorySpam}, func(blocklist.Entry) error { spam++; return nil }); err != nil || spam != 469 {
		t.Errorf("exported %d SPAM entries, %v; want 469", spam, err)
	}
}

// An export whose writer fails stops there with the writer's error, however
// many pages the store still holds (the next page was being read meanwhile).
func TestExportStopsAtTheWritersError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var rows []blocklist.Entry
	for i := range 2345 {
		rows = append(rows, blocklist.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: blocklist.CategoryScam})
	}
	importRows(t, e, rows)
	broken := errors.New("client went away")
	n := 0
	err := e.svc.ExportEntries(context.Background(), blocklist.EntryFilter{}, func(blocklist.Entry) error {
		if n++; n == 1500 {
			return broken
		}
		return nil
	})
	if !errors.Is(err, broken) || n != 1500 {
		t.Errorf("export took %d entries and said %v; want 1500 and %v", n, err, broken)
	}
}

// Rejected rows are listed by index whether the row was bad or the store
// refused it, even when a later batch's bad row was judged before an
// earlier batch's refusal came back.
func TestImportListsErrorsInRowOrderAcrossBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateOfficialNumber(ctx, admin, "+8617000000005", blocklist.OfficialNumber{DisplayName: "Hotline", Direction: blocklist.DirectionBoth}); err != nil {
		t.Fatal(err)
	}
	var rows []blocklist.Entry
	for i := range 2 * blocklist.ImportBatch {
		p := fmt.Sprintf("+86170%08d", i)
		if i == 1500 {
			p = "nonsense"
		}
		rows = append(rows, blocklist.Entry{Pattern: p, Category: blocklist.CategoryScam})
	}
	sum := importRows(t, e, rows)
	var got []int64
	for _, ie := range sum.Errors {
		got = append(got, ie.Index)
	}
	if fmt.Sprint(got) != "[5 1500]" || sum.Rejected != 2 || sum.Imported != int64(len(rows)-2) {
		t.Errorf("errors at rows %v, %d rejected, %d imported; want rows [5 1500], 2, %d", got, sum.Rejected, sum.Imported, len(rows)-2)
	}
	if !contains(sum.Errors[0].Message, "official number") {
		t.Errorf("row 5's error %q does not name the official number", sum.Errors[0].Message)
	}
}

// A batch reaches the store in key order: the changes it makes are
// numbered in pattern order whatever the order of the file, and a pattern
// given twice keeps its rows' order (the later row wins).
func TestImportWritesEachBatchInKeyOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	rows := []blocklist.Entry{
		{Pattern: "+8617000000009", Category: blocklist.CategoryScam},
		{Pattern: "+86170*", Category: blocklist.CategorySpam},
		{Pattern: "+8617000000001", Category: blocklist.CategoryScam},
		{Pattern: "+8617000000009", Category: blocklist.CategoryRobocall},
		{Pattern: "+8617000000005", Category: blocklist.CategoryScam},
	}
	sum := importRows(t, e, rows)
	if sum.Imported != 4 || sum.Updated != 1 {
		t.Errorf("summary %+v, want 4 imported and 1 updated", sum)
	}
	chs, err := e.store.Changes(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range chs {
		got = append(got, c.Entry.Pattern+" "+c.Entry.Category.String())
	}
	// Byte order, as the stores keep keys: '*' sorts before the digits.
	want := "[+86170* CATEGORY_SPAM +8617000000001 CATEGORY_SCAM +8617000000005 CATEGORY_SCAM +8617000000009 CATEGORY_SCAM +8617000000009 CATEGORY_ROBOCALL]"
	if fmt.Sprint(got) != want {
		t.Errorf("changes in order %v, want %s", got, want)
	}
	if m, _ := e.svc.Match("+8617000000009"); m.Category != blocklist.CategoryRobocall {
		t.Errorf("+8617000000009 matches as %s, want the later row's ROBOCALL", m.Category)
	}
}

// failsSecondImport is the embedded store whose second import batch fails
// (a store that went away for a moment). It offers no BatchImporter, so
// the import commits one batch at a time.
type failsSecondImport struct {
	blocklist.Store
	calls *atomic.Int32
}

func (s failsSecondImport) ImportEntries(ctx context.Context, batch []blocklist.Entry, now time.Time, ev audit.Event) ([]blocklist.ImportOutcome, []blocklist.Change, error) {
	if s.calls.Add(1) == 2 {
		return nil, nil, fault.Unavailable(errors.New("connection reset"))
	}
	return s.Store.ImportEntries(ctx, batch, now, ev)
}

// After a batch fails, no later batch commits, even when the caller goes
// on adding rows: what an import committed is always its first rows, and
// its summary counts exactly those.
func TestImportCommitsNothingAfterAFailedBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	e := newEnv(t, func(c *blocklist.Config) { c.Store = failsSecondImport{Store: c.Store, calls: &calls} })
	im := e.svc.NewImporter(analyst)
	var addErr error
	for i := range 4*blocklist.ImportBatch + 10 {
		if err := im.Add(ctx, int64(i+1), blocklist.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: blocklist.CategoryScam}); err != nil && addErr == nil {
			addErr = err
		}
	}
	sum, err := im.Finish(ctx)
	if err == nil && addErr == nil {
		t.Fatal("the import said nothing of the failed batch")
	}
	if got := fmt.Sprint(sum.Imported, sum.Rows()); got != "1000 1000" {
		t.Errorf("summary imported, rows = %s, want 1000 1000 (the first batch only)", got)
	}
	if n, _ := e.store.CountEntries(ctx, blocklist.EntryFilter{}); n != blocklist.ImportBatch {
		t.Errorf("store holds %d entries, want the first batch's %d", n, blocklist.ImportBatch)
	}
	var batches []any
	for _, ev := range e.events(t, "entry.import") {
		batches = append(batches, ev.After["batch"])
	}
	if fmt.Sprint(batches) != "[1]" {
		t.Errorf("import events of batches %v, want the first batch's only", batches)
	}
}
