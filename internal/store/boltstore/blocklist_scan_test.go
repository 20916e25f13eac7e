package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// TestScanIndexEntriesGivesWhatTheIndexHolds: the header-only scan gives
// every entry's pattern, kind, category, source, confidence and expiry as
// the full scan does, and the same sequence.
func TestScanIndexEntriesGivesWhatTheIndexHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newScanStore(t, openDB(t), 300)
	var full, lean []blocklist.Entry
	seqFull, err := s.ScanEntries(ctx, func(e blocklist.Entry) error { full = append(full, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	seqLean, err := s.ScanIndexEntries(ctx, func(e blocklist.Entry) error {
		e.Pattern = strings.Clone(e.Pattern) // the store reuses its memory
		lean = append(lean, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seqFull != seqLean || len(full) != len(lean) || len(full) != 300 {
		t.Fatalf("ScanEntries: %d entries at seq %d; ScanIndexEntries: %d at %d; want 300 at the same seq", len(full), seqFull, len(lean), seqLean)
	}
	for i, f := range full {
		want := blocklist.Entry{Pattern: f.Pattern, Kind: f.Kind, Category: f.Category, Source: f.Source,
			Confidence: f.Confidence, ExpireTime: f.ExpireTime}
		if got := lean[i]; got != want {
			t.Fatalf("ScanIndexEntries entry %d = %+v, want %+v", i, got, want)
		}
	}
}

// newScanStore returns a store of n entries: exact numbers and prefixes,
// every category, some with an expiry.
func newScanStore(t testing.TB, db *bolt.DB, n int) *boltstore.BlocklistStore {
	t.Helper()
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var batch []blocklist.Entry
	for i := range n {
		e := blocklist.Entry{Pattern: fmt.Sprintf("+86138%08d", i*7919), Kind: blocklist.KindExact,
			Category: blocklist.Category(1 + i%5), Source: blocklist.Source(1 + i%3), Confidence: i % 101,
			Reason: fmt.Sprintf("reason %d", i%4), CreateBy: "importer", CreateTime: t0, UpdateTime: t0}
		if i%10 == 0 {
			e.Pattern, e.Kind = fmt.Sprintf("+8617%d*", 100+i), blocklist.KindPrefix
		}
		if i%3 == 0 {
			e.ExpireTime = t0.Add(time.Duration(i) * time.Hour)
		}
		batch = append(batch, e)
		if len(batch) == 1000 || i == n-1 {
			if _, _, err := s.ImportEntries(context.Background(), batch, t0, audit.Event{Time: t0, Actor: "a", Action: "entry.import"}); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return s
}

// TestAScanLeavesTheStoreFileNotResident: bbolt reads through a mapping
// of the file, so without eviction a full scan leaves the whole file in
// the process's resident memory (VmRSS) for good.
func TestAScanLeavesTheStoreFileNotResident(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := newScanStore(t, db, 50_000)
	path := filepath.Join(dir, boltstore.FileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, scan := range map[string]func(context.Context, func(blocklist.Entry) error) (uint64, error){
		"ScanEntries": s.ScanEntries, "ScanIndexEntries": s.ScanIndexEntries,
	} {
		n := 0
		if _, err := scan(ctx, func(blocklist.Entry) error { n++; return nil }); err != nil || n != 50_000 {
			t.Fatalf("%s: %d entries, %v", name, n, err)
		}
		rss, err := mappedRSS(path)
		if err != nil {
			t.Fatal(err)
		}
		if rss > fi.Size()/10 {
			t.Errorf("after %s %d bytes of the %d-byte store file are resident, want at most a tenth", name, rss, fi.Size())
		}
	}
}

// mappedRSS returns the resident bytes of this process's mappings of path
// (/proc/self/smaps).
func mappedRSS(path string) (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// A mapping's header: address range, perms, offset, device,
			// inode and, for a file, its path.
			in = len(fields) >= 6 && fields[5] == path
		case in && len(fields) >= 2 && fields[0] == "Rss:":
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			total += kb * 1024
		}
	}
	return total, sc.Err()
}
