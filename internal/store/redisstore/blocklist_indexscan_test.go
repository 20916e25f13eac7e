package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// indexFields is what the matching index keeps of an entry.
type indexFields struct {
	Kind       blocklist.Kind
	Category   blocklist.Category
	Source     blocklist.Source
	Confidence int
	Expire     time.Time
}

func fieldsOf(e blocklist.Entry) indexFields {
	return indexFields{e.Kind, e.Category, e.Source, e.Confidence, e.ExpireTime}
}

// testScanPage is the ScanIndexEntries page of these tests (4096 in use):
// small, so that a few hundred entries cross pages.
const testScanPage = 64

// indexScanPages is more than two of the tests' pages.
const indexScanPages = 2*testScanPage + 10

// newIndexScanStore is a store on client whose ScanIndexEntries reads
// testScanPage entries a round trip, filled by fillIndexScanStore.
func newIndexScanStore(t *testing.T, client redis.UniversalClient) *redisstore.BlocklistStore {
	t.Helper()
	s, _ := newTestBlocklistStore(t, client, 0)
	redisstore.SetIndexScanPage(s, testScanPage)
	fillIndexScanStore(t, s)
	return s
}

// fillIndexScanStore imports indexScanPages entries of every kind of
// index field: prefixes, expiries, confidences, a reason that spells a
// confidence field in its text.
func fillIndexScanStore(t *testing.T, s *redisstore.BlocklistStore) {
	t.Helper()
	var batch []blocklist.Entry
	flush := func() {
		if _, _, err := s.ImportEntries(context.Background(), batch, blockT0, blockEvent("entry.import")); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range indexScanPages {
		e := blockEntry(fmt.Sprintf("+861380%07d", i*613%10_000_000), blocklist.Category(1+i%5))
		e.Source, e.Confidence = blocklist.Source(1+i%3), i%101
		if i%7 == 0 {
			e.ExpireTime = blockT0.Add(time.Duration(i) * time.Minute)
		}
		if i%11 == 0 {
			e.Reason = `said "f":99, "c":1 on the phone`
		}
		if i%17 == 0 {
			e.Pattern, e.Kind = fmt.Sprintf("+8617%04d*", i), blocklist.KindPrefix
		}
		batch = append(batch, e)
		if len(batch) == blocklist.ImportBatch {
			flush()
		}
	}
	flush()
}

// TestScanIndexEntriesReadsWhatTheFullScanReads: over several pages, on a
// server, a cluster and through Sentinel, the index scan gives each entry
// with the index's fields as ScanEntries decodes them, in the same order,
// and the same sequence.
func TestScanIndexEntriesReadsWhatTheFullScanReads(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			s := newIndexScanStore(t, srv.client(t))
			ctx := context.Background()
			var want, got []blocklist.Entry
			wantSeq, err := s.ScanEntries(ctx, func(e blocklist.Entry) error { want = append(want, e); return nil })
			if err != nil {
				t.Fatal(err)
			}
			gotSeq, err := s.ScanIndexEntries(ctx, func(e blocklist.Entry) error { got = append(got, e); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if gotSeq != wantSeq || len(got) != len(want) || len(want) != indexScanPages {
				t.Fatalf("ScanIndexEntries: %d entries at seq %d; ScanEntries: %d at %d; want %d", len(got), gotSeq, len(want), wantSeq, indexScanPages)
			}
			for i := range want {
				if got[i].Pattern != want[i].Pattern || fieldsOf(got[i]) != fieldsOf(want[i]) {
					t.Fatalf("entry %d: the index scan read %s %+v, the full scan %s %+v", i, got[i].Pattern, fieldsOf(got[i]), want[i].Pattern, fieldsOf(want[i]))
				}
			}
		})
	}
}

// TestScanIndexEntriesWhileWritingConvergesAfterReplay: writes ahead of the
// index scan and behind it, between its pages; replaying the change log
// from the sequence it returned ends in the store's state.
func TestScanIndexEntriesWhileWritingConvergesAfterReplay(t *testing.T) {
	t.Parallel()
	s := newIndexScanStore(t, redistest.Standalone(t).Client(t))
	ctx := context.Background()
	all := func() []blocklist.Entry {
		var out []blocklist.Entry
		if _, err := s.ScanEntries(ctx, func(e blocklist.Entry) error { out = append(out, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	scanned := map[string]indexFields{}
	seen := 0
	seq, err := s.ScanIndexEntries(ctx, func(e blocklist.Entry) error {
		seen++
		if seen == 1 || seen == testScanPage+1 {
			cur := all()
			// Behind the scan (the first entries), ahead of it (the
			// last), and new ones at both ends.
			_, _, err := s.DeleteEntry(ctx, cur[len(cur)-1].ID, blockEvent("entry.delete"))
			must(err)
			_, _, err = s.DeleteEntry(ctx, cur[seen-1].ID, blockEvent("entry.delete"))
			must(err)
			upd := cur[len(cur)-2]
			upd.Category, upd.Confidence = blocklist.CategoryRobocall, 3
			_, _, err = s.UpdateEntry(ctx, upd, upd.Rev, blockT0, blockEvent("entry.update"))
			must(err)
			upd = cur[seen]
			upd.ExpireTime = blockT0.Add(time.Hour)
			_, _, err = s.UpdateEntry(ctx, upd, upd.Rev, blockT0, blockEvent("entry.update"))
			must(err)
			for _, p := range []string{fmt.Sprintf("+86100000000%02d", seen%100), fmt.Sprintf("+86199999999%02d", seen%100)} {
				_, _, err = s.CreateEntry(ctx, blockEntry(p, blocklist.CategorySpam), blockT0, blockEvent("entry.create"))
				must(err)
			}
		}
		scanned[e.Pattern] = fieldsOf(e)
		return nil
	})
	must(err)
	for after := seq; ; {
		chs, err := s.Changes(ctx, after, 5)
		must(err)
		if len(chs) == 0 {
			break
		}
		for _, c := range chs {
			if c.Op == blocklist.ChangePut {
				scanned[c.Entry.Pattern] = fieldsOf(c.Entry)
			} else {
				delete(scanned, c.Entry.Pattern)
			}
			after = c.Seq
		}
	}
	want := all()
	if len(scanned) != len(want) {
		t.Errorf("scan and replay hold %d entries, the store %d", len(scanned), len(want))
	}
	for _, w := range want {
		if g, ok := scanned[w.Pattern]; !ok || g != fieldsOf(w) {
			t.Errorf("scan and replay hold %s as %+v (%v), the store %+v", w.Pattern, g, ok, fieldsOf(w))
		}
	}
}
