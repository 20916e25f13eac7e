package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
)

func randomPattern(rng *rand.Rand) string {
	n := 1 + rng.IntN(15)
	var b strings.Builder
	b.WriteByte('+')
	for range n {
		b.WriteByte(byte('0' + rng.IntN(10)))
	}
	if n < 15 && rng.IntN(3) == 0 {
		b.WriteByte('*')
	}
	return b.String()
}

// TestPackedPatternsSortAsThePatterns: ListEntries pages in pattern order
// by walking the keys, so packing must keep the strings' order and be
// undone exactly.
func TestPackedPatternsSortAsThePatterns(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	fixed := []string{"+1", "+1*", "+10", "+19", "+86171*", "+8617", "+861710", "+999999999999999", "+99999999999999*"}
	for i := range 20000 {
		a, b := randomPattern(rng), randomPattern(rng)
		if i < len(fixed)*len(fixed) {
			a, b = fixed[i/len(fixed)], fixed[i%len(fixed)]
		}
		ka, kb := patternKeyOf(a), patternKeyOf(b)
		if ka == nil || kb == nil {
			t.Fatalf("patternKeyOf(%q) = %x, (%q) = %x; want keys", a, ka, b, kb)
		}
		if got, want := bytes.Compare(ka, kb), strings.Compare(a, b); got != want {
			t.Fatalf("compare keys of %q and %q = %d, want %d", a, b, got, want)
		}
		if got, err := unpackPattern(ka); err != nil || got != a {
			t.Fatalf("unpackPattern(patternKeyOf(%q)) = %q, %v", a, got, err)
		}
	}
	for _, bad := range []string{"", "+", "86171*", "+86a", "+1234567890123456*", "+12345678901234567"} {
		if k := patternKeyOf(bad); k != nil {
			t.Errorf("patternKeyOf(%q) = %x, want nil", bad, k)
		}
	}
}

func TestIDsThatThisStoreDidNotIssueAreNotFound(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "no-such-id", "00000000000000000", "0000000000000000", "000000000000000A", "000000000000000g"} {
		if n, ok := idSeq(id); ok {
			t.Errorf("idSeq(%q) = %d, want not an ID", id, n)
		}
	}
	if n, ok := idSeq("000000000000002a"); !ok || n != 42 {
		t.Errorf("idSeq(000000000000002a) = %d, %v; want 42", n, ok)
	}
}

// encodeEntryV1 writes a record as the version 1 layout did (the code that
// wrote it, kept here to make fixtures).
func encodeEntryV1(e blocklist.Entry) []byte {
	b := []byte{entryRecordV1, byte(e.Kind), byte(e.Category), byte(e.Source), byte(e.Confidence)}
	for _, s := range []string{e.ID, e.Pattern, e.Reason, e.CreateBy} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, millis(e.CreateTime))
	b = binary.AppendVarint(b, millis(e.UpdateTime))
	b = binary.AppendVarint(b, millis(e.ExpireTime))
	return binary.AppendUvarint(b, e.Rev)
}

// TestAVersion1StoreMigratesOnOpen writes a store as version 1 left it
// (entries keyed by pattern string with the whole entry, an ID bucket,
// version 1 changes in the log) and opens it: every entry is found by ID
// and pattern as it was, the log still reads, the counters go on, and the
// old buckets are gone.
func TestAVersion1StoreMigratesOnOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	old := []blocklist.Entry{
		{ID: "0000000000000001", Pattern: "+8613800138000", Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
			Reason: "refund scam", Source: blocklist.SourceImport, Confidence: 70, CreateBy: "importer",
			CreateTime: t0, UpdateTime: t0.Add(time.Hour), ExpireTime: t0.Add(48 * time.Hour), Rev: 4},
		{ID: "0000000000000002", Pattern: "+86170*", Kind: blocklist.KindPrefix, Category: blocklist.CategorySpam,
			Reason: "virtual operator range", Source: blocklist.SourceAnalyst, Confidence: 90, CreateBy: "analyst-1",
			CreateTime: t0, UpdateTime: t0, Rev: 2},
		{ID: "0000000000000003", Pattern: "+861*", Kind: blocklist.KindPrefix, Category: blocklist.CategoryRobocall,
			Source: blocklist.SourceAnalyst, CreateTime: t0, UpdateTime: t0, Rev: 3},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		es, err := tx.CreateBucket(bEntriesV1)
		if err != nil {
			return err
		}
		ids, err := tx.CreateBucket(bEntryIDsV1)
		if err != nil {
			return err
		}
		chs, err := tx.CreateBucket(bChanges)
		if err != nil {
			return err
		}
		for _, e := range old {
			if err := es.Put([]byte(e.Pattern), encodeEntryV1(e)); err != nil {
				return err
			}
			if err := ids.Put([]byte(e.ID), []byte(e.Pattern)); err != nil {
				return err
			}
		}
		// Change 1 put the first entry at rev 1; 4 replaced it.
		first := old[0]
		first.Rev, first.UpdateTime = 1, t0
		for seq, e := range map[uint64]blocklist.Entry{1: first, 2: old[1], 3: old[2], 4: old[0]} {
			v := append([]byte{byte(blocklist.ChangePut)}, encodeEntryV1(e)...)
			if err := chs.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
				return err
			}
		}
		if err := es.SetSequence(4); err != nil {
			return err
		}
		return ids.SetSequence(3)
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range old {
		if got, err := s.GetEntry(ctx, want.ID); err != nil || !sameEntry(got, want) {
			t.Errorf("GetEntry(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
		if got, err := s.GetEntryByPattern(ctx, want.Pattern); err != nil || !sameEntry(got, want) {
			t.Errorf("GetEntryByPattern(%s) = %+v, %v; want %+v", want.Pattern, got, err, want)
		}
	}
	list, err := s.ListEntries(ctx, blocklist.EntryFilter{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Pattern)
	}
	if want := []string{"+861*", "+8613800138000", "+86170*"}; !slices.Equal(got, want) {
		t.Errorf("ListEntries patterns = %q, want %q", got, want)
	}
	chs, err := s.Changes(ctx, 0, 10)
	if err != nil || len(chs) != 4 || !sameEntry(chs[3].Entry, old[0]) || chs[0].Entry.Rev != 1 {
		t.Errorf("Changes(0) = %+v, %v; want the four version 1 changes", chs, err)
	}
	seq, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil || seq != 4 {
		t.Errorf("ScanEntries seq = %d, %v; want 4", seq, err)
	}
	e, c, err := s.CreateEntry(ctx, blocklist.Entry{Pattern: "+8613900139000", Kind: blocklist.KindExact,
		Category: blocklist.CategoryScam, Source: blocklist.SourceAnalyst, CreateTime: t0, UpdateTime: t0}, t0, audit.Event{Time: t0, Actor: "a", Action: "entry.create"})
	if err != nil || e.ID != "0000000000000004" || c.Seq != 5 {
		t.Errorf("CreateEntry after the migration = %s seq %d, %v; want ID 0000000000000004 at change 5", e.ID, c.Seq, err)
	}
	if chs, err := s.Changes(ctx, 4, 10); err != nil || len(chs) != 1 || !sameEntry(chs[0].Entry, e) {
		t.Errorf("Changes(4) = %+v, %v; want the new entry", chs, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bEntriesV1) != nil || tx.Bucket(bEntryIDsV1) != nil {
			return fmt.Errorf("the version 1 buckets are still there")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// Opening again finds nothing to migrate.
	if _, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetEntry(ctx, old[1].ID); err != nil || !sameEntry(got, old[1]) {
		t.Errorf("GetEntry after a second open = %+v, %v", got, err)
	}
}

func sameEntry(a, b blocklist.Entry) bool {
	return a.ID == b.ID && a.SameContent(b) && a.CreateBy == b.CreateBy && a.CreateTime.Equal(b.CreateTime) &&
		a.UpdateTime.Equal(b.UpdateTime) && a.Rev == b.Rev
}

// TestListEntriesAfterAnyString: a page token is a stored pattern, but
// ListEntries takes any string and returns exactly the patterns after it.
func TestListEntriesAfterAnyString(t *testing.T) {
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
	patterns := []string{"+1202*", "+12025550100", "+86170*", "+861700*", "+8613800138000", "+8613800138001", "+44207*"}
	var batch []blocklist.Entry
	for _, p := range patterns {
		kind := blocklist.KindExact
		if strings.HasSuffix(p, "*") {
			kind = blocklist.KindPrefix
		}
		batch = append(batch, blocklist.Entry{Pattern: p, Kind: kind, Category: blocklist.CategoryScam,
			Source: blocklist.SourceImport, Reason: "list", CreateBy: "importer", CreateTime: t0, UpdateTime: t0})
	}
	if _, _, err := s.ImportEntries(ctx, batch, t0, audit.Event{Time: t0, Actor: "a", Action: "entry.import"}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(patterns)
	for _, after := range []string{"", "!", "+", "+1", "+1202*", "+12025", "+1202a", "+8", "+86170*", "+86170x", "+8613800138000",
		"+8613800138001", "+9", "+99999999999999999999", "a", "\xff"} {
		page, err := s.ListEntries(ctx, blocklist.EntryFilter{}, after, 100)
		if err != nil {
			t.Fatalf("ListEntries after %q: %v", after, err)
		}
		var got, want []string
		for _, e := range page {
			got = append(got, e.Pattern)
		}
		for _, p := range patterns {
			if p > after {
				want = append(want, p)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListEntries after %q = %q, want %q", after, got, want)
		}
	}
}

// TestTheStringDictionaryIsCapped: past maxDictStrings strings a record
// holds its reason inline, and both kinds read back the same.
func TestTheStringDictionaryIsCapped(t *testing.T) {
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
	row := func(p, reason string) blocklist.Entry {
		return blocklist.Entry{Pattern: p, Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
			Source: blocklist.SourceImport, Reason: reason, CreateBy: "importer", CreateTime: t0, UpdateTime: t0}
	}
	ev := audit.Event{Time: t0, Actor: "a", Action: "entry.import"}
	if _, _, err := s.ImportEntries(ctx, []blocklist.Entry{row("+8613800138000", "shared reason")}, t0, ev); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bStrings).SetSequence(maxDictStrings) }); err != nil {
		t.Fatal(err)
	}
	outs, _, err := s.ImportEntries(ctx, []blocklist.Entry{row("+8613800138001", "shared reason"), row("+8613800138002", "a new reason")}, t0, ev)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		for _, p := range []string{"+8613800138000", "+8613800138001", "+8613800138002"} {
			flags[p] = tx.Bucket(bEntries).Get(patternKeyOf(p))[1]
		}
		if n := tx.Bucket(bStringsByID).Stats().KeyN; n != 2 {
			return fmt.Errorf("the dictionary holds %d strings, want 2 (the shared reason and the author)", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if flags["+8613800138001"]&flagReasonRef == 0 || flags["+8613800138002"]&flagReasonRef != 0 {
		t.Errorf("record flags %v: want the shared reason by reference and the new one inline", flags)
	}
	for _, o := range outs {
		if got, err := s.GetEntryByPattern(ctx, o.Entry.Pattern); err != nil || !sameEntry(got, o.Entry) {
			t.Errorf("GetEntryByPattern(%s) = %+v, %v; want %+v", o.Entry.Pattern, got, err, o.Entry)
		}
	}
}

// TestIDBlocksChangedInPlaceKeepEveryID: a pending block is changed in
// place; an ID cleared at the block's end (the value cut short), a later
// ID set past it, and a block taken again from the bucket after a flush
// all read back exactly what was set.
func TestIDBlocksChangedInPlaceKeepEveryID(t *testing.T) {
	t.Parallel()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key := func(p string) []byte { return patternKeyOf(p) }
	a, b, c := key("+8613800138000"), key("+8613800138001"), key("+86170*")
	err = db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bIDBlocks)
		if err != nil {
			return err
		}
		x := idBlocks{b: bk}
		x.set(64, a)   // block 1, slot 0
		x.set(66, b)   // slot 2
		x.set(66, nil) // cut back to slot 0
		x.set(68, c)   // past the cut: slots 1 to 3 must read as none
		for _, tc := range []struct {
			seq  uint64
			want []byte
		}{{64, a}, {65, nil}, {66, nil}, {67, nil}, {68, c}, {69, nil}} {
			if got := x.pattern(tc.seq); !bytes.Equal(got, tc.want) {
				t.Errorf("before flush: ID %d -> %x, want %x", tc.seq, got, tc.want)
			}
		}
		if err := x.flush(); err != nil {
			return err
		}
		x.set(65, b) // from the stored block again
		if got := x.pattern(68); !bytes.Equal(got, c) {
			t.Errorf("after flush: ID 68 -> %x, want %x", got, c)
		}
		if got := x.pattern(65); !bytes.Equal(got, b) {
			t.Errorf("after flush: ID 65 -> %x, want %x", got, b)
		}
		return x.flush()
	})
	if err != nil {
		t.Fatal(err)
	}
}
