package redisstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// After a batch of new patterns the store plans the next batches without
// reading first; a batch that meets an entry or an official number after
// all is refused by its write script, read, and imported as it would have
// been with a read: the same outcomes, revisions, counts and IDs. Alone
// (ImportEntries) and in a group (ImportEntryBatches).
func TestImportPlannedWithoutAReadMeetsWhatIsStored(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	for _, grouped := range []bool{false, true} {
		s, _ := newTestBlocklistStore(t, rdb, 0)
		ctx := context.Background()
		o := blocklist.OfficialNumber{Number: "+8695188", DisplayName: "Customer service", Direction: blocklist.DirectionInboundOnly,
			CreateBy: "admin-1", CreateTime: blockT0}
		if _, err := s.CreateOfficialNumber(ctx, o, blockT0, blockEvent("official_number.create")); err != nil {
			t.Fatal(err)
		}
		first := []blocklist.Entry{blockEntry("+8613800138001", blocklist.CategoryScam), blockEntry("+8613800138002", blocklist.CategoryScam)}
		outs, _, err := s.ImportEntries(ctx, first, blockT0, blockEvent("entry.import"))
		if err != nil || outs[0].Result != blocklist.ImportCreated || outs[1].Result != blocklist.ImportCreated {
			t.Fatalf("first batch: %+v, %v", outs, err)
		}
		if !redisstore.ImportsNew(s) {
			t.Fatal("after a batch of new patterns the next one is still read first")
		}
		fresh := []blocklist.Entry{blockEntry("+8613800138010", blocklist.CategorySpam)}
		mixed := []blocklist.Entry{
			blockEntry("+8613800138002", blocklist.CategorySpam), // updated
			blockEntry("+8613800138003", blocklist.CategorySpam), // created
			blockEntry("+8695188", blocklist.CategoryScam),       // refused: official
		}
		var freshOuts, mixedOuts []blocklist.ImportOutcome
		var mixedChs []blocklist.Change
		if grouped {
			res, err := s.ImportEntryBatches(ctx, []blocklist.ImportBatchInput{
				{Entries: fresh, Event: blockEvent("entry.import")}, {Entries: mixed, Event: blockEvent("entry.import")},
			}, blockT0)
			if err != nil || len(res) != 2 {
				t.Fatalf("ImportEntryBatches = %d results, %v", len(res), err)
			}
			freshOuts, mixedOuts, mixedChs = res[0].Outcomes, res[1].Outcomes, res[1].Changes
		} else {
			if freshOuts, _, err = s.ImportEntries(ctx, fresh, blockT0, blockEvent("entry.import")); err != nil {
				t.Fatal(err)
			}
			if mixedOuts, mixedChs, err = s.ImportEntries(ctx, mixed, blockT0, blockEvent("entry.import")); err != nil {
				t.Fatal(err)
			}
		}
		if len(freshOuts) != 1 || freshOuts[0].Result != blocklist.ImportCreated {
			t.Errorf("grouped %v: the new batch: %+v, want created", grouped, freshOuts)
		}
		want := []blocklist.ImportResult{blocklist.ImportUpdated, blocklist.ImportCreated, blocklist.ImportRefused}
		for i, o := range mixedOuts {
			if o.Result != want[i] {
				t.Errorf("grouped %v: row %d (%s): result %d, want %d (%v)", grouped, i, mixed[i].Pattern, o.Result, want[i], o.Err)
			}
		}
		if c := new(blocklist.ConflictError); len(mixedOuts) != 3 || !errors.As(mixedOuts[2].Err, &c) || c.Number != "+8695188" {
			t.Errorf("grouped %v: the official row: %+v, want a ConflictError naming +8695188", grouped, mixedOuts)
		}
		if len(mixedChs) != 2 || mixedChs[1].Seq != mixedChs[0].Seq+1 || mixedOuts[1].Entry.Rev != mixedChs[1].Seq {
			t.Errorf("grouped %v: changes %+v, want two consecutive ones, the revisions of the rows written", grouped, mixedChs)
		}
		if updated, err := s.GetEntryByPattern(ctx, "+8613800138002"); err != nil || updated.ID != outs[1].Entry.ID ||
			updated.Category != blocklist.CategorySpam || updated.Rev != mixedChs[0].Seq {
			t.Errorf("grouped %v: the updated entry %+v, %v; want ID %s, SPAM, rev %d", grouped, updated, err, outs[1].Entry.ID, mixedChs[0].Seq)
		}
		for f, n := range map[blocklist.EntryFilter]int{{}: 4, {Category: blocklist.CategoryScam}: 1, {Category: blocklist.CategorySpam}: 3} {
			if got, err := s.CountEntries(ctx, f); err != nil || got != n {
				t.Errorf("grouped %v: CountEntries(%+v) = %d, %v; want %d", grouped, f, got, err, n)
			}
		}
		if redisstore.ImportsNew(s) {
			t.Errorf("grouped %v: after a batch that met stored entries the next one is planned without a read", grouped)
		}
	}
}
