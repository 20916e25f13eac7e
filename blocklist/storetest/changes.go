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
)

// RunChangeLog runs the change log's retention tests. newStore returns an
// empty store whose log keeps at least the last retain changes and trims
// what is older, so that a follower further behind is told to reload.
func RunChangeLog(t *testing.T, newStore func(t *testing.T, retain int) blocklist.Store) {
	t.Helper()
	t.Run("ChangeLogTrimsAndSaysGap", func(t *testing.T) { t.Parallel(); testChangeLogGap(t, newStore(t, 5)) })
}

// allChanges reads the whole log after after, limit at a time.
func allChanges(t *testing.T, s blocklist.Store, after uint64, limit int) []blocklist.Change {
	t.Helper()
	var out []blocklist.Change
	for {
		page, err := s.Changes(context.Background(), after, limit)
		if err != nil {
			t.Fatalf("Changes(%d, %d): %v", after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("Changes(%d, %d) returned %d changes", after, limit, len(page))
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		after = page[len(page)-1].Seq
	}
}

// wantChanges compares what the log says with what the writes returned.
func wantChanges(t *testing.T, what string, got, want []blocklist.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: the log holds %d changes %v, the writes returned %d %v", what, len(got), describe(got), len(want), describe(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || got[i].Op != want[i].Op || !same(got[i].Entry, want[i].Entry) ||
			!sameOfficial(got[i].Official, want[i].Official) {
			t.Errorf("%s: change %d in the log = %+v, the write returned %+v", what, i, got[i], want[i])
		}
	}
}

// sameOfficial compares an official number's change records.
func sameOfficial(a, b *blocklist.OfficialNumber) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Number == b.Number && a.Gen == b.Gen && a.Direction == b.Direction && a.DisplayName == b.DisplayName &&
		a.Description == b.Description && a.CreateBy == b.CreateBy && a.CreateTime.Equal(b.CreateTime)
}

// testOfficialChanges: creating and deleting an official number append
// their changes to the entries' log, numbered by the same counter, each
// carrying the record (its generation included), so that a follower keeps
// the official numbers in memory beside the entries; a refused create
// appends nothing.
func testOfficialChanges(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	seq0, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var want []blocklist.Change
	_, c, err := s.CreateEntry(ctx, entry("+8613800138000", blocklist.CategoryScam), t0, ev("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, c)
	o := official("+8695188", blocklist.DirectionOutbound)
	put, err := s.CreateOfficialNumber(ctx, o, t0, officialEvent("official_number.create"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.GetOfficialNumber(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	if put.Op != blocklist.ChangeOfficialPut || put.Seq != c.Seq+1 || !sameOfficial(put.Official, &stored) || stored.Gen == "" {
		t.Fatalf("CreateOfficialNumber returned %+v (record %+v); want change %d, a put of the record as stored, with its generation", put, put.Official, c.Seq+1)
	}
	want = append(want, put)
	wantChanges(t, "after CreateOfficialNumber", allChanges(t, s, seq0, 10), want)

	if _, err := s.CreateOfficialNumber(ctx, o, t0, officialEvent("official_number.create")); !errors.Is(err, fault.ErrAlreadyExists) {
		t.Fatalf("second CreateOfficialNumber: %v, want ErrAlreadyExists", err)
	}
	wantChanges(t, "after a refused CreateOfficialNumber", allChanges(t, s, seq0, 10), want)

	_, _, del, err := s.DeleteOfficialNumber(ctx, o.Number, t0, officialEvent("official_number.delete"))
	if err != nil {
		t.Fatal(err)
	}
	if del.Op != blocklist.ChangeOfficialDelete || del.Seq != put.Seq+1 || del.Official == nil ||
		del.Official.Number != o.Number || del.Official.Gen != stored.Gen {
		t.Fatalf("DeleteOfficialNumber returned %+v (record %+v); want change %d, a delete of %s generation %s", del, del.Official, put.Seq+1, o.Number, stored.Gen)
	}
	want = append(want, del)
	_, c, err = s.CreateEntry(ctx, entry("+8613800138001", blocklist.CategoryScam), t0, ev("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Seq != del.Seq+1 {
		t.Errorf("the entry created after the delete has change %d, want %d", c.Seq, del.Seq+1)
	}
	want = append(want, c)
	wantChanges(t, "after DeleteOfficialNumber", allChanges(t, s, seq0, 10), want)
	if seq, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil }); err != nil || seq != c.Seq {
		t.Errorf("ScanEntries = %d, %v; want the last change, %d", seq, err, c.Seq)
	}
}

func describe(chs []blocklist.Change) []string {
	out := make([]string, len(chs))
	for i, c := range chs {
		out[i] = fmt.Sprintf("%d:%s:%s", c.Seq, c.Op, c.Entry.Pattern)
	}
	return out
}

// testChangeLog: every kind of entry write appends exactly the changes it
// returned, in order, and the log ends where ScanEntries says.
func testChangeLog(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	seq0, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Changes(ctx, seq0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes after the last change = %v, %v; want none", got, err)
	}
	var want []blocklist.Change
	a, c, err := s.CreateEntry(ctx, entry("+8613800138000", blocklist.CategoryScam), t0, ev("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, c)
	wantChanges(t, "after CreateEntry", allChanges(t, s, seq0, 10), want)

	moved := a
	moved.Pattern = "+8613800138001"
	a2, chs, err := s.UpdateEntry(ctx, moved, a.Rev, t0, ev("entry.update"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, chs...)
	if got := allChanges(t, s, seq0, 10); len(got) != 3 || got[1].Op != blocklist.ChangeDelete || got[1].Entry.Pattern != a.Pattern {
		t.Errorf("a pattern move logged %v, want a put, then a delete of %s and a put of %s", describe(got), a.Pattern, moved.Pattern)
	}

	_, imp, err := s.ImportEntries(ctx, []blocklist.Entry{entry("+86170*", blocklist.CategorySpam), entry("+8615000150000", blocklist.CategorySpam)}, t0, ev("entry.import"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, imp...)

	mustReport(t, s, report("+8617000000001", "", t0), customer(1), lim)
	blk := entry("+8617000000001", blocklist.CategoryScam)
	blk.Source = blocklist.SourceCustomerReports
	_, _, rchs, err := s.ResolveReportedNumber(ctx, "+8617000000001", blocklist.ReportBlocked, &blk, t0, ev("reported_number.resolve"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, rchs...)

	_, dc, err := s.DeleteEntry(ctx, a2.ID, ev("entry.delete"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, dc)

	// A refused write logs nothing.
	if _, _, err := s.CreateEntry(ctx, entry("+86170*", blocklist.CategoryScam), t0, ev("entry.create")); !errors.Is(err, fault.ErrAlreadyExists) {
		t.Fatalf("duplicate create: err = %v, want ErrAlreadyExists", err)
	}

	if len(want) != 7 {
		t.Fatalf("the writes returned %d changes %v, want 7", len(want), describe(want))
	}
	for i, c := range want {
		if c.Seq != seq0+uint64(i)+1 {
			t.Fatalf("the writes returned sequence numbers %v after %d, want consecutive", describe(want), seq0)
		}
	}
	for _, limit := range []int{1, 2, 3, 7, 100} {
		wantChanges(t, fmt.Sprintf("read %d at a time", limit), allChanges(t, s, seq0, limit), want)
	}
	// Reading from the middle starts right after afterSeq.
	wantChanges(t, "after the fourth", allChanges(t, s, want[3].Seq, 2), want[4:])
	if got, err := s.Changes(ctx, want[1].Seq, 2); err != nil || len(got) != 2 || got[0].Seq != want[2].Seq {
		t.Errorf("Changes(%d, 2) = %v, %v; want changes %d and %d", want[1].Seq, describe(got), err, want[2].Seq, want[3].Seq)
	}
	seq, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if last := want[len(want)-1].Seq; seq != last {
		t.Errorf("ScanEntries says the last change is %d, the log ends at %d", seq, last)
	}
	if got, err := s.Changes(ctx, seq, 10); err != nil || len(got) != 0 {
		t.Errorf("Changes after the scan's sequence = %v, %v; want none", describe(got), err)
	}
	// A follower ahead of the store (which lost data, or is another store)
	// must reload.
	if _, err := s.Changes(ctx, seq+5, 10); !errors.Is(err, blocklist.ErrGap) {
		t.Errorf("Changes after a sequence the store never reached: err = %v, want ErrGap", err)
	}
}

// testChangeLogConcurrent: writers racing each other get distinct
// consecutive numbers, and the log holds each write's change under it.
func testChangeLogConcurrent(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	seq0, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 10
	var mu sync.Mutex
	bySeq := map[uint64]blocklist.Change{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, c, err := s.CreateEntry(ctx, entry(fmt.Sprintf("+861380013%02d%02d", w, i), blocklist.CategoryScam), t0, ev("entry.create"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := bySeq[c.Seq]; dup {
					t.Errorf("two writes got sequence %d", c.Seq)
				}
				bySeq[c.Seq] = c
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got := allChanges(t, s, seq0, 7)
	if len(got) != writers*each {
		t.Fatalf("the log holds %d changes after %d concurrent writes", len(got), writers*each)
	}
	for i, c := range got {
		if c.Seq != seq0+uint64(i)+1 {
			t.Fatalf("change %d has sequence %d, want %d: the log has a hole or is out of order", i, c.Seq, seq0+uint64(i)+1)
		}
		if w, ok := bySeq[c.Seq]; !ok || w.Entry.Pattern != c.Entry.Pattern || w.Op != c.Op {
			t.Errorf("log change %d is %s %s, the write with that number returned %+v", c.Seq, c.Op, c.Entry.Pattern, w)
		}
	}
	if seq, _ := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil }); seq != got[len(got)-1].Seq {
		t.Errorf("ScanEntries seq = %d, the log ends at %d", seq, got[len(got)-1].Seq)
	}
}

// testChangeLogGap: a log with retention 5 keeps the last 5 changes, and a
// reader further behind is told ErrGap (never given a log with a hole).
func testChangeLogGap(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	seq0, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	const n = 60
	for i := range n {
		_, c, err := s.CreateEntry(ctx, entry(fmt.Sprintf("+86138001380%02d", i), blocklist.CategoryScam), t0, ev("entry.create"))
		if err != nil {
			t.Fatal(err)
		}
		last = c.Seq
	}
	tail := allChanges(t, s, last-5, 10)
	if len(tail) != 5 || tail[0].Seq != last-4 || tail[4].Seq != last {
		t.Errorf("the last 5 changes read %v, want %d to %d", describe(tail), last-4, last)
	}
	_, err = s.Changes(ctx, seq0, 10)
	if !errors.Is(err, blocklist.ErrGap) {
		t.Fatalf("Changes(%d) after %d more changes with retention 5: err = %v, want ErrGap", seq0, n, err)
	}
	if _, ok := fault.Message(err); !ok {
		t.Errorf("ErrGap %v carries no fault message", err)
	}
	// An import's changes, more than the retention in one write: the
	// last 5 still read from any point, however many at a time.
	rows := make([]blocklist.Entry, 12)
	for i := range rows {
		rows[i] = entry(fmt.Sprintf("+86139001390%02d", i), blocklist.CategorySpam)
	}
	_, imp, err := s.ImportEntries(ctx, rows, t0, ev("entry.import"))
	if err != nil {
		t.Fatal(err)
	}
	last = imp[len(imp)-1].Seq
	for after := last - 5; after <= last; after++ {
		for _, limit := range []int{1, 2, 3, 10} {
			got := allChanges(t, s, after, limit)
			wantChanges(t, fmt.Sprintf("after %d, %d at a time", after, limit), got, imp[len(imp)-int(last-after):])
		}
	}
	if _, err := s.Changes(ctx, last-uint64(len(imp))-1, 10); !errors.Is(err, blocklist.ErrGap) {
		t.Errorf("Changes from before the import, the log trimmed to 5: err = %v, want ErrGap", err)
	}
	// The deadline is honoured like any read's.
	cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-cctx.Done()
	if _, err := s.Changes(cctx, last-1, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Changes with an expired context: err = %v, want DeadlineExceeded", err)
	}
}
