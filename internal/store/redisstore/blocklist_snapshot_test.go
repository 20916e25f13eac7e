package redisstore_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// noScanStore cannot be scanned, fully or for the index: a start over it
// must come from the snapshot.
type noScanStore struct{ blocklist.Store }

func (noScanStore) ScanEntries(context.Context, func(blocklist.Entry) error) (uint64, error) {
	return 0, errors.New("the store was scanned")
}

// snapService starts a Service on s with the index snapshots in Redis (or
// none); wrap, when given, wraps the store.
func snapService(t *testing.T, s *redisstore.BlocklistStore, rdb redis.UniversalClient, prefix string, snaps bool, wrap func(blocklist.Store) blocklist.Store, every time.Duration) (*blocklist.Service, error) {
	t.Helper()
	p, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	var st blocklist.Store = s
	if wrap != nil {
		st = wrap(st)
	}
	cfg := blocklist.Config{Store: st, Audit: audit.NewRecorder(streamAudit{rdb: rdb, key: "{" + prefix + ":dir}:audit"}, time.Now), Phone: p}
	if snaps {
		cfg.Follow.Snapshots, cfg.Follow.SnapshotEvery = s.IndexSnapshots(), every
	}
	svc, err := blocklist.NewService(cfg)
	if err == nil {
		t.Cleanup(func() { svc.Close() })
	}
	return svc, err
}

func snapCreate(t *testing.T, s *redisstore.BlocklistStore, pattern string, c blocklist.Category) blocklist.Entry {
	t.Helper()
	e, _, err := s.CreateEntry(context.Background(), blockEntry(pattern, c), blockT0, blockEvent("entry.create"))
	if err != nil {
		t.Fatalf("CreateEntry(%s): %v", pattern, err)
	}
	return e
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

// TestARestartOnRedisStartsFromTheSnapshotInRedis: Close saves the
// snapshot in Redis; a later start (of any instance) reads it and replays
// what was written since, without scanning, on a server, a cluster and
// through Sentinel.
func TestARestartOnRedisStartsFromTheSnapshotInRedis(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			rdb := srv.client(t)
			s, prefix := newTestBlocklistStore(t, rdb, 0)
			a, err := snapService(t, s, rdb, prefix, true, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			snapCreate(t, s, "+8613800138000", blocklist.CategoryScam)
			gone := snapCreate(t, s, "+8613800138001", blocklist.CategorySpam)
			last := snapCreate(t, s, "+86170*", blocklist.CategoryRobocall)
			if err := a.Reload(context.Background()); err != nil { // the index holds all three
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if seq, err := rdb.HGet(context.Background(), "{"+prefix+":ixs}:meta", "seq").Uint64(); err != nil || seq != last.Rev {
				t.Fatalf("the saved snapshot's seq = %d, %v; want %d", seq, err, last.Rev)
			}
			// Writes after the snapshot, by another instance.
			snapCreate(t, s, "+8613900139000", blocklist.CategoryOther)
			if _, _, err := s.DeleteEntry(context.Background(), gone.ID, blockEvent("entry.delete")); err != nil {
				t.Fatal(err)
			}
			c, err := snapService(t, s, rdb, prefix, true, func(st blocklist.Store) blocklist.Store { return noScanStore{st} }, 0)
			if err != nil {
				t.Fatalf("a start over a store that cannot be scanned: %v", err)
			}
			wantMatch(t, c, "+8613800138000", "+8613800138000", blocklist.CategoryScam)
			wantMatch(t, c, "+8613800138001", "", 0)
			wantMatch(t, c, "+8613900139000", "+8613900139000", blocklist.CategoryOther)
			wantMatch(t, c, "+8617012345678", "+86170*", blocklist.CategoryRobocall)
			if st := c.IndexStats(); st.Reloads != 0 || st.Entries != 3 || st.Seq != last.Rev+2 {
				t.Errorf("IndexStats after a start from the snapshot = %+v, want no reload, 3 entries at seq %d", st, last.Rev+2)
			}
		})
	}
}

// TestASnapshotInRedisThatCannotBeTrustedIsIgnored: a missing, torn (a
// chunk gone, a byte flipped), older (the log no longer holds its last
// change) or foreign (another store's history) snapshot makes the start
// scan, and the index says what the store holds.
func TestASnapshotInRedisThatCannotBeTrustedIsIgnored(t *testing.T) {
	t.Parallel()
	rdb := blockServers[0].client(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, s *redisstore.BlocklistStore, prefix string)
	}{
		{"missing", func(t *testing.T, s *redisstore.BlocklistStore, prefix string) {
			if err := rdb.Del(ctx, "{"+prefix+":ixs}:meta").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a chunk gone", func(t *testing.T, s *redisstore.BlocklistStore, prefix string) {
			gen := rdb.HGet(ctx, "{"+prefix+":ixs}:meta", "gen").Val()
			if n, err := rdb.Del(ctx, "{"+prefix+":ixs}:c:"+gen+":0").Result(); err != nil || n != 1 {
				t.Fatalf("DEL chunk 0 = %d, %v", n, err)
			}
		}},
		{"a flipped byte", func(t *testing.T, s *redisstore.BlocklistStore, prefix string) {
			key := "{" + prefix + ":ixs}:c:" + rdb.HGet(ctx, "{"+prefix+":ixs}:meta", "gen").Val() + ":0"
			b, err := rdb.Get(ctx, key).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x40
			if err := rdb.Set(ctx, key, b, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"older than the change log", func(t *testing.T, s *redisstore.BlocklistStore, prefix string) {
			// Four more changes with a log of three: the snapshot's is gone.
			for _, p := range []string{"+8613900139001", "+8613900139002", "+8613900139003", "+8613900139004"} {
				snapCreate(t, s, p, blocklist.CategoryOther)
			}
		}},
		{"another store's", func(t *testing.T, s *redisstore.BlocklistStore, prefix string) {
			// The snapshot is copied to a store with another history,
			// whose log holds a change of the snapshot's number, of
			// another entry.
			o, oprefix := newTestBlocklistStore(t, rdb, 3)
			raw, err := s.IndexSnapshots().LoadSnapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			seq, err := rdb.HGet(ctx, "{"+prefix+":ixs}:meta", "seq").Uint64()
			if err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(ctx, "{"+oprefix+":dir}:seq", seq-1, 0).Err(); err != nil {
				t.Fatal(err)
			}
			e := snapCreate(t, o, "+8613900139009", blocklist.CategoryOther)
			if e.Rev != seq {
				t.Fatalf("the other store's change is %d, want %d", e.Rev, seq)
			}
			if ok, err := o.IndexSnapshots().SaveSnapshot(ctx, e.Rev, func(w io.Writer) error { _, err := w.Write(raw); return err }); err != nil || !ok {
				t.Fatalf("SaveSnapshot = %v, %v", ok, err)
			}
			*s = *o
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, prefix := newTestBlocklistStore(t, rdb, 3)
			a, err := snapService(t, s, rdb, prefix, true, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			snapCreate(t, s, "+8613800138000", blocklist.CategoryScam)
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, s, prefix)
			var want []blocklist.Entry
			if _, err := s.ScanEntries(ctx, func(e blocklist.Entry) error { want = append(want, e); return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := snapService(t, s, rdb, prefix, true, func(st blocklist.Store) blocklist.Store { return noScanStore{st} }, 0); err == nil {
				t.Fatalf("a start from this snapshot did not scan")
			}
			c, err := snapService(t, s, rdb, prefix, true, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st := c.IndexStats(); st.Reloads != 1 || st.Entries != len(want) {
				t.Errorf("IndexStats = %+v, want a start from a scan of %d entries", st, len(want))
			}
			for _, e := range want {
				wantMatch(t, c, e.Pattern, e.Pattern, e.Category)
			}
		})
	}
}

// TestIndexSnapshotsKeepOneWholeNewestSnapshot: a save replaces an older
// snapshot (its chunks go), never a newer or equal one, never while
// another instance holds the lease, and a save whose writing fails leaves
// the saved one and no chunks behind.
func TestIndexSnapshotsKeepOneWholeNewestSnapshot(t *testing.T) {
	t.Parallel()
	rdb := blockServers[0].client(t)
	ctx := context.Background()
	s, prefix := newTestBlocklistStore(t, rdb, 0)
	x := s.IndexSnapshots()
	tag := "{" + prefix + ":ixs}"
	chunks := func() int {
		keys, err := rdb.Keys(ctx, tag+":c:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	body := func(n int, b byte) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = b + byte(i%7)
		}
		return out
	}
	save := func(seq uint64, data []byte) (ok, called bool) {
		t.Helper()
		ok, err := x.SaveSnapshot(ctx, seq, func(w io.Writer) error { called = true; _, err := w.Write(data); return err })
		if err != nil {
			t.Fatalf("SaveSnapshot(%d): %v", seq, err)
		}
		return ok, called
	}
	if _, err := x.LoadSnapshot(ctx); err == nil {
		t.Fatal("LoadSnapshot of a store with none succeeded")
	}
	big := body(5<<19, 'a') // two and a half chunks
	if ok, _ := save(10, big); !ok {
		t.Fatal("the first save declined")
	}
	if got, err := x.LoadSnapshot(ctx); err != nil || string(got) != string(big) {
		t.Fatalf("LoadSnapshot = %d bytes, %v; want the %d saved", len(got), err, len(big))
	}
	if n := chunks(); n != 3 {
		t.Errorf("%d chunks, want 3", n)
	}
	for _, seq := range []uint64{9, 10} {
		if ok, called := save(seq, body(10, 'x')); ok || called {
			t.Errorf("a save at %d over one at 10 = %v (written: %v), want declined unwritten", seq, ok, called)
		}
	}
	if err := rdb.Set(ctx, tag+":lease", "another instance", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, called := save(11, body(10, 'x')); ok || called {
		t.Errorf("a save while another holds the lease = %v (written: %v), want declined unwritten", ok, called)
	}
	rdb.Del(ctx, tag+":lease")
	if _, err := x.SaveSnapshot(ctx, 12, func(w io.Writer) error {
		w.Write(body(3<<19, 'z'))
		return errors.New("the encoder failed")
	}); err == nil {
		t.Error("a save whose writing failed succeeded")
	}
	if got, err := x.LoadSnapshot(ctx); err != nil || string(got) != string(big) || chunks() != 3 {
		t.Errorf("after a failed save: %d bytes, %v, %d chunks; want the saved one and its 3", len(got), err, chunks())
	}
	small := body(100, 'b')
	if ok, _ := save(11, small); !ok {
		t.Fatal("a newer save declined")
	}
	if got, err := x.LoadSnapshot(ctx); err != nil || string(got) != string(small) {
		t.Errorf("LoadSnapshot = %q, %v; want the newer", got, err)
	}
	if n := chunks(); n != 1 {
		t.Errorf("%d chunks after the replace, want 1 (the old ones deleted)", n)
	}
	if n := rdb.Exists(ctx, tag+":lease").Val(); n != 0 {
		t.Errorf("the lease is still held after the save")
	}
}

// TestTheFollowerSavesTheSnapshotPeriodically: with SnapshotEvery set, a
// running instance saves the snapshot of what it follows without closing.
func TestTheFollowerSavesTheSnapshotPeriodically(t *testing.T) {
	t.Parallel()
	rdb := blockServers[0].client(t)
	ctx := context.Background()
	s, prefix := newTestBlocklistStore(t, rdb, 0)
	if _, err := snapService(t, s, rdb, prefix, true, nil, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e := snapCreate(t, s, "+8613800138000", blocklist.CategoryScam)
	// Waits for the save the follower makes by itself (no expiry here).
	deadline := time.Now().Add(20 * time.Second)
	for {
		seq, _ := rdb.HGet(ctx, "{"+prefix+":ixs}:meta", "seq").Uint64()
		if seq == e.Rev {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the saved snapshot is at %d, want %d", seq, e.Rev)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, err := snapService(t, s, rdb, prefix, true, func(st blocklist.Store) blocklist.Store { return noScanStore{st} }, 0)
	if err != nil {
		t.Fatalf("a start from the periodic snapshot: %v", err)
	}
	wantMatch(t, c, "+8613800138000", "+8613800138000", blocklist.CategoryScam)
}

// TestClosingOnAnEmptyStoreSavesNothingAndSaysNoError: a new store's
// sequence starts at the server's clock with no change in the log, which
// no snapshot could prove itself against; Close skips it quietly.
func TestClosingOnAnEmptyStoreSavesNothingAndSaysNoError(t *testing.T) {
	t.Parallel()
	rdb := blockServers[0].client(t)
	s, prefix := newTestBlocklistStore(t, rdb, 0)
	a, err := snapService(t, s, rdb, prefix, true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close on an empty store: %v", err)
	}
	if n := rdb.Exists(context.Background(), "{"+prefix+":ixs}:meta").Val(); n != 0 {
		t.Errorf("a snapshot was saved for an empty store")
	}
}
