package redisstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/redistest"
)

// A blocklist larger than one page script's budget: a filtered list that
// finds its entries only at the end takes several scripts and misses none,
// and a scan while writes go on, replayed from the sequence it returned,
// ends exactly in the store's state.
func TestLargeBlocklistListAndScanWhileWriting(t *testing.T) {
	t.Parallel()
	s, _ := newTestBlocklistStore(t, redistest.Standalone(t).Client(t), 0)
	ctx := context.Background()
	const n = 4500
	pattern := func(i int) string { return fmt.Sprintf("+86138000%05d", i) }
	for from := 0; from < n; from += 1500 {
		var batch []blocklist.Entry
		for i := from; i < from+1500; i++ {
			c := blocklist.CategoryScam
			if i >= n-3 {
				c = blocklist.CategoryOther
			}
			batch = append(batch, blockEntry(pattern(i), c))
		}
		if _, _, err := s.ImportEntries(ctx, batch, blockT0, blockEvent("entry.import")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListEntries(ctx, blocklist.EntryFilter{Category: blocklist.CategoryOther}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Pattern != pattern(n-3) || got[2].Pattern != pattern(n-1) {
		t.Errorf("filtered list = %v, want the last 3 entries", got)
	}

	byPattern := func() map[string]blocklist.Entry {
		all, err := s.ListEntries(ctx, blocklist.EntryFilter{}, "", 2*n)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]blocklist.Entry{}
		for _, e := range all {
			m[e.Pattern] = e
		}
		return m
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	scanned := map[string]blocklist.Entry{}
	seen := 0
	seq, err := s.ScanEntries(ctx, func(e blocklist.Entry) error {
		seen++
		switch seen {
		case 1: // writes ahead of the scan and behind it
			cur := byPattern()
			_, _, err := s.DeleteEntry(ctx, cur[pattern(4000)].ID, blockEvent("entry.delete"))
			must(err)
			upd := cur[pattern(0)]
			upd.Reason = "updated during the scan"
			_, _, err = s.UpdateEntry(ctx, upd, upd.Rev, blockT0, blockEvent("entry.update"))
			must(err)
			_, _, err = s.CreateEntry(ctx, blockEntry("+8613800099999", blocklist.CategorySpam), blockT0, blockEvent("entry.create"))
			must(err)
			_, _, err = s.CreateEntry(ctx, blockEntry("+8613700000000", blocklist.CategorySpam), blockT0, blockEvent("entry.create"))
			must(err)
			moved := cur[pattern(2000)]
			moved.Pattern = "+8613700000001"
			_, _, err = s.UpdateEntry(ctx, moved, moved.Rev, blockT0, blockEvent("entry.update"))
			must(err)
		case 1500: // behind the scan: already seen
			cur := byPattern()
			_, _, err := s.DeleteEntry(ctx, cur[pattern(10)].ID, blockEvent("entry.delete"))
			must(err)
			upd := cur[pattern(3000)]
			upd.Category = blocklist.CategoryRobocall
			_, _, err = s.UpdateEntry(ctx, upd, upd.Rev, blockT0, blockEvent("entry.update"))
			must(err)
		}
		scanned[e.Pattern] = e
		return nil
	})
	must(err)
	if _, ok := scanned[pattern(4000)]; ok {
		t.Errorf("the scan saw %s, deleted before it got there", pattern(4000))
	}
	for after := seq; ; {
		chs, err := s.Changes(ctx, after, 3)
		must(err)
		if len(chs) == 0 {
			break
		}
		for _, c := range chs {
			if c.Op == blocklist.ChangePut {
				scanned[c.Entry.Pattern] = c.Entry
			} else {
				delete(scanned, c.Entry.Pattern)
			}
			after = c.Seq
		}
	}
	want := byPattern()
	if len(scanned) != len(want) {
		t.Errorf("scan and replay hold %d entries, the store %d", len(scanned), len(want))
	}
	for p, w := range want {
		if g, ok := scanned[p]; !ok || g.ID != w.ID || g.Rev != w.Rev || !g.SameContent(w) {
			t.Errorf("scan and replay hold %s as %+v (%v), the store %+v", p, g, ok, w)
		}
	}
}
