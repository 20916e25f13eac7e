package blocklist_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// snapStore is a store file and its index snapshot in a directory.
type snapStore struct {
	store *boltstore.BlocklistStore
	audit *audit.Recorder
	snap  string
}

func newSnapStore(t *testing.T, retain int) *snapStore {
	t.Helper()
	dir := t.TempDir()
	db, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey, ChangeLogRetain: retain})
	if err != nil {
		t.Fatal(err)
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return &snapStore{store: st, audit: audit.NewRecorder(as, func() time.Time { return t0 }), snap: filepath.Join(dir, boltstore.IndexSnapshotFile)}
}

// service starts a Service on the store (through wrap, when given) with
// the snapshot file, or none when snapshot is false.
func (s *snapStore) service(t *testing.T, snapshot bool, wrap func(blocklist.Store) blocklist.Store) *blocklist.Service {
	t.Helper()
	p, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	var st blocklist.Store = s.store
	if wrap != nil {
		st = wrap(st)
	}
	cfg := blocklist.Config{Store: st, Audit: s.audit, Phone: p, Now: func() time.Time { return t0 }}
	if snapshot {
		cfg.Follow.Snapshot = s.snap
	}
	svc, err := blocklist.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func mustCreate(t *testing.T, svc *blocklist.Service, pattern string, c blocklist.Category, expire time.Time) blocklist.Entry {
	t.Helper()
	e, err := svc.CreateEntry(context.Background(), analyst, blocklist.Entry{Pattern: pattern, Category: c, Confidence: 80, ExpireTime: expire})
	if err != nil {
		t.Fatalf("CreateEntry(%s): %v", pattern, err)
	}
	return e
}

// noScan is a store that cannot be scanned: a start over it must come
// from the snapshot.
type noScan struct{ blocklist.Store }

var errScanned = errors.New("the store was scanned")

func (noScan) ScanEntries(context.Context, func(blocklist.Entry) error) (uint64, error) {
	return 0, errScanned
}

func wantMatch(t *testing.T, svc *blocklist.Service, number, pattern string, c blocklist.Category) {
	t.Helper()
	got, ok := svc.Match(phone.Number(number))
	switch {
	case pattern == "" && ok:
		t.Errorf("Match(%s) = %+v, want no match", number, got)
	case pattern != "" && (!ok || got.Pattern != pattern || got.Category != c):
		t.Errorf("Match(%s) = %+v, %v; want %s (%v)", number, got, ok, pattern, c)
	}
}

// TestARestartStartsFromTheSnapshotAndTheLogAfterIt: Close writes the
// snapshot; a later start reads it and replays what other writers did
// since, without scanning the store.
func TestARestartStartsFromTheSnapshotAndTheLogAfterIt(t *testing.T) {
	t.Parallel()
	s := newSnapStore(t, 0)
	a := s.service(t, true, nil)
	mustCreate(t, a, "+8613800138000", blocklist.CategoryScam, time.Time{})
	gone := mustCreate(t, a, "+8613800138001", blocklist.CategorySpam, time.Time{})
	mustCreate(t, a, "+86170*", blocklist.CategoryRobocall, t0.Add(time.Hour))
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(s.snap); err != nil {
		t.Fatalf("no snapshot after Close: %v", err)
	}
	// Another writer (no snapshot of its own) goes on.
	b := s.service(t, false, nil)
	mustCreate(t, b, "+8613900139000", blocklist.CategoryOther, time.Time{})
	if err := b.DeleteEntry(context.Background(), analyst, gone.ID); err != nil {
		t.Fatal(err)
	}
	b.Close()

	c := s.service(t, true, func(st blocklist.Store) blocklist.Store { return noScan{st} })
	wantMatch(t, c, "+8613800138000", "+8613800138000", blocklist.CategoryScam)
	wantMatch(t, c, "+8613800138001", "", 0)
	wantMatch(t, c, "+8613900139000", "+8613900139000", blocklist.CategoryOther)
	wantMatch(t, c, "+8617012345678", "+86170*", blocklist.CategoryRobocall)
	if st := c.IndexStats(); st.Reloads != 0 || st.Entries != 3 || st.Seq != 5 {
		t.Errorf("IndexStats after a start from the snapshot = %+v, want no reload, 3 entries at seq 5", st)
	}
}

// TestASnapshotThatCannotBeTrustedIsIgnored: a missing, torn, older (the
// log no longer holds its last change) or foreign (another store's
// history) snapshot makes the start scan the store, and the index says
// what the store holds.
func TestASnapshotThatCannotBeTrustedIsIgnored(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// spoil acts on the store s after a service wrote its snapshot
		// at seq 1 (the entry +8613800138000).
		spoil func(t *testing.T, s *snapStore)
	}{
		{"missing", func(t *testing.T, s *snapStore) {
			if err := os.Remove(s.snap); err != nil {
				t.Fatal(err)
			}
		}},
		{"torn", func(t *testing.T, s *snapStore) {
			fi, err := os.Stat(s.snap)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(s.snap, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"a flipped byte", func(t *testing.T, s *snapStore) {
			b, err := os.ReadFile(s.snap)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x40
			if err := os.WriteFile(s.snap, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"older than the change log", func(t *testing.T, s *snapStore) {
			// Four more changes with a log of three: change 1 is gone.
			b := s.service(t, false, nil)
			for _, p := range []string{"+8613900139001", "+8613900139002", "+8613900139003", "+8613900139004"} {
				mustCreate(t, b, p, blocklist.CategoryOther, time.Time{})
			}
			b.Close()
		}},
		{"another store's", func(t *testing.T, s *snapStore) {
			// A store whose change 1 is another entry, given this one's
			// snapshot.
			o := newSnapStore(t, 3)
			b := o.service(t, false, nil)
			mustCreate(t, b, "+8613900139001", blocklist.CategoryOther, time.Time{})
			b.Close()
			raw, err := os.ReadFile(s.snap)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(o.snap, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			*s = *o
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSnapStore(t, 3)
			a := s.service(t, true, nil)
			mustCreate(t, a, "+8613800138000", blocklist.CategoryScam, time.Time{})
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, s)
			var want []blocklist.Entry
			if _, err := s.store.ScanEntries(context.Background(), func(e blocklist.Entry) error { want = append(want, e); return nil }); err != nil {
				t.Fatal(err)
			}
			c := s.service(t, true, nil)
			if st := c.IndexStats(); st.Reloads != 1 || st.Entries != len(want) {
				t.Errorf("IndexStats = %+v, want a start from a scan of %d entries", st, len(want))
			}
			for _, e := range want {
				wantMatch(t, c, e.Pattern, e.Pattern, e.Category)
			}
			if len(want) == 1 && want[0].Pattern != "+8613800138000" {
				wantMatch(t, c, "+8613800138000", "", 0)
			}
		})
	}
}
