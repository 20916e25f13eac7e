package boltstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
)

// TestTheChangeLogHoldsExactlyItsRetention: each write trims what it
// pushes past ChangeLogRetain, so a log of single changes never grows
// beyond it.
func TestTheChangeLogHoldsExactlyItsRetention(t *testing.T) {
	t.Parallel()
	db, s := newInternalStore(t, BlocklistOptions{ChangeLogRetain: 5})
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i := range 20 {
		e := blocklist.Entry{Pattern: fmt.Sprintf("+86138001380%02d", i), Kind: blocklist.KindExact,
			Category: blocklist.CategoryScam, Source: blocklist.SourceAnalyst, CreateTime: t0, UpdateTime: t0}
		if _, _, err := s.CreateEntry(context.Background(), e, t0, audit.Event{Time: t0, Actor: "a", Action: "entry.create"}); err != nil {
			t.Fatal(err)
		}
		want := min(i+1, 5)
		if got := logRecords(t, db); got != want {
			t.Fatalf("after %d writes the log holds %d changes, want %d", i+1, got, want)
		}
	}
}

// newInternalStore opens a blocklist store in a new temporary directory
// with opt (and a pseudonym key), closed when t ends.
func newInternalStore(t *testing.T, opt BlocklistOptions) (*bolt.DB, *BlocklistStore) {
	t.Helper()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	opt.PseudonymKey = make([]byte, 32)
	s, err := NewBlocklistStore(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	return db, s
}

// logRecords is how many records db's change log holds.
func logRecords(t *testing.T, db *bolt.DB) (n int) {
	t.Helper()
	if err := db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bChanges).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTheChangeLogKeepsARunWhileItHoldsARetainedChange: an import's
// changes are one record, trimmed only once all its changes are older
// than the retention.
func TestTheChangeLogKeepsARunWhileItHoldsARetainedChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s := newInternalStore(t, BlocklistOptions{ChangeLogRetain: 5})
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	entry := func(i int) blocklist.Entry {
		return blocklist.Entry{Pattern: fmt.Sprintf("+86138001380%02d", i), Kind: blocklist.KindExact,
			Category: blocklist.CategoryScam, Source: blocklist.SourceAnalyst, CreateTime: t0, UpdateTime: t0}
	}
	rows := make([]blocklist.Entry, 12)
	for i := range rows {
		rows[i] = entry(i)
	}
	if _, _, err := s.ImportEntries(ctx, rows, t0, audit.Event{Time: t0, Actor: "a", Action: "entry.import"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		records int    // records in the log after create i
		from    uint64 // the first change the log gives
	}{{2, 1}, {3, 1}, {4, 1}, {5, 1}, {5, 13}} {
		if _, _, err := s.CreateEntry(ctx, entry(20+i), t0, audit.Event{Time: t0, Actor: "a", Action: "entry.create"}); err != nil {
			t.Fatal(err)
		}
		if got := logRecords(t, db); got != want.records {
			t.Errorf("after %d creates the log holds %d records, want %d", i+1, got, want.records)
		}
		if _, err := s.Changes(ctx, want.from-1, 100); err != nil {
			t.Errorf("after %d creates, Changes(%d): %v", i+1, want.from-1, err)
		}
		if want.from > 1 {
			if _, err := s.Changes(ctx, want.from-2, 100); !errors.Is(err, blocklist.ErrGap) {
				t.Errorf("after %d creates, Changes(%d): err = %v, want ErrGap", i+1, want.from-2, err)
			}
		}
	}
}

// TestAStoreWrittenBeforeTheChangeLogFollowsFromItsLastChange: a store
// whose entries predate the log has no changes to give; a follower at its
// sequence is current, and one behind it reloads.
func TestAStoreWrittenBeforeTheChangeLogFollowsFromItsLastChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	e := blocklist.Entry{Pattern: "+8613800138000", Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
		Source: blocklist.SourceAnalyst, CreateTime: t0, UpdateTime: t0}
	if _, _, err := s.CreateEntry(ctx, e, t0, audit.Event{Time: t0, Actor: "a", Action: "entry.create"}); err != nil {
		t.Fatal(err)
	}
	// As an older version left it: no log bucket at all.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bChanges) }); err != nil {
		t.Fatal(err)
	}
	if s, err = NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Changes(ctx, 1, 10); err != nil || len(got) != 0 {
		t.Errorf("Changes(1) = %v, %v; want none: the follower is current", got, err)
	}
	if _, err := s.Changes(ctx, 0, 10); !errors.Is(err, blocklist.ErrGap) {
		t.Errorf("Changes(0) on a store without change 1 in its log: err = %v, want ErrGap", err)
	}
}

// TestAnImportGroupSplitsAtItsPageBudget: the batches of one
// ImportEntryBatches commit together until they have dirtied ImportTxPages
// pages, then go on in another transaction (each writes one change-log
// record).
func TestAnImportGroupSplitsAtItsPageBudget(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	batch := func(b int) blocklist.ImportBatchInput {
		var in blocklist.ImportBatchInput
		for i := range 2 {
			in.Entries = append(in.Entries, blocklist.Entry{Pattern: fmt.Sprintf("+8613800138%d%02d", b, i), Kind: blocklist.KindExact,
				Category: blocklist.CategoryScam, Source: blocklist.SourceImport, CreateTime: t0, UpdateTime: t0})
		}
		in.Event = audit.Event{Time: t0, Actor: "a", Action: "entry.import"}
		return in
	}
	for _, tc := range []struct{ pages, records int }{{0, 1}, {1, 3}} {
		db, s := newInternalStore(t, BlocklistOptions{ImportTxPages: tc.pages})
		res, err := s.ImportEntryBatches(context.Background(), []blocklist.ImportBatchInput{batch(1), batch(2), batch(3)}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 || len(res[2].Changes) != 2 {
			t.Fatalf("ImportTxPages %d: results %+v, want 3 batches of 2 changes", tc.pages, res)
		}
		if n := logRecords(t, db); n != tc.records {
			t.Errorf("ImportTxPages %d: 3 batches wrote %d change-log records, want %d (one a transaction)", tc.pages, n, tc.records)
		}
	}
}

// TestAnImportGroupThatFailsReturnsWhatCommitted: a group split over
// transactions that fails in a later one returns the results of the
// batches that committed, whose rows and events are in the store, and
// nothing of the batch that failed.
func TestAnImportGroupThatFailsReturnsWhatCommitted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s := newInternalStore(t, BlocklistOptions{ImportTxPages: 1})
	a, err := NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	row := func(p string) blocklist.Entry {
		return blocklist.Entry{Pattern: p, Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
			Source: blocklist.SourceImport, CreateTime: t0, UpdateTime: t0}
	}
	batches := []blocklist.ImportBatchInput{
		{Entries: []blocklist.Entry{row("+8613800138000")}, Event: audit.Event{Time: t0, Actor: "a", Action: "entry.import", After: map[string]any{"batch": 1}}},
		// A store refuses a pattern that is not canonical: the importer
		// never hands it one, so the write fails.
		{Entries: []blocklist.Entry{row("+8613900139000"), row("not a pattern")}, Event: audit.Event{Time: t0, Actor: "a", Action: "entry.import", After: map[string]any{"batch": 2}}},
	}
	res, err := s.ImportEntryBatches(ctx, batches, t0)
	if err == nil || len(res) != 1 || len(res[0].Changes) != 1 {
		t.Fatalf("ImportEntryBatches = %d results, %v; want the first batch's and the second's error", len(res), err)
	}
	if _, err := s.GetEntryByPattern(ctx, "+8613800138000"); err != nil {
		t.Errorf("the first batch's row: %v", err)
	}
	if _, err := s.GetEntryByPattern(ctx, "+8613900139000"); err == nil {
		t.Error("a row of the batch that failed is in the store")
	}
	evs, _, err := a.ListAuditEvents(ctx, audit.Filter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].After["batch"] != float64(1) {
		t.Errorf("audit events %+v, want the first batch's only", evs)
	}

	// A context that has ended stops a group before its next transaction.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if res, err := s.ImportEntryBatches(cctx, batches[:1], t0); len(res) != 0 || err == nil {
		t.Errorf("ImportEntryBatches with an ended context = %d results, %v; want none and its error", len(res), err)
	}
}

// TestTheImportBudgetHalvesInALargeStore: the default page budget is
// halved from LargeStore entries on; a budget the options set holds.
func TestTheImportBudgetHalvesInALargeStore(t *testing.T) {
	t.Parallel()
	_, s := newInternalStore(t, BlocklistOptions{})
	_, set := newInternalStore(t, BlocklistOptions{ImportTxPages: 100})
	for _, tc := range []struct {
		s       *BlocklistStore
		entries int64
		want    int64
	}{
		{s, 0, DefaultImportTxPages}, {s, LargeStore - 1, DefaultImportTxPages}, {s, LargeStore, DefaultImportTxPages / 2},
		{set, 0, 100}, {set, LargeStore, 100},
	} {
		if got := tc.s.importBudget(tc.entries); got != tc.want {
			t.Errorf("importBudget(%d) with ImportTxPages %d = %d, want %d", tc.entries, tc.s.importTx, got, tc.want)
		}
	}
}
