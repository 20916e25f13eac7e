package blocklist_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/clocktest"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// another starts a second Service over the same store (the same *bolt.DB),
// as a second instance over a shared backend would run.
func (e *env) another(t *testing.T, tune ...func(*blocklist.Config)) *blocklist.Service {
	t.Helper()
	cfg := e.cfg
	for _, f := range tune {
		f(&cfg)
	}
	svc, err := blocklist.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// eventually polls cond until it holds or a second has passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	within(t, time.Second, what, cond)
}

// within waits up to d for cond. Tests of a promise ("within 1s") use
// eventually; tests that only wait for the follower to get there give the
// race detector and a loaded machine more room.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idle makes the follower poll only when its own service writes.
func idle(c *blocklist.Config) { c.Follow.Interval = time.Hour }

func TestAnotherInstancesWritesReachTheIndexWithinASecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newEnv(t)
	b := a.another(t)
	en := a.create(t, "+8613800138000", blocklist.CategoryScam)
	eventually(t, "a block made on A matches on B", func() bool {
		got, ok := b.Match("+8613800138000")
		return ok && got.Category == blocklist.CategoryScam
	})
	if _, err := a.svc.UpdateEntry(ctx, analyst, en.ID, blocklist.Entry{Pattern: "+86170*"}, []string{"pattern"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a pattern moved on A moves on B", func() bool {
		_, old := b.Match("+8613800138000")
		_, moved := b.Match("+8617012345678")
		return !old && moved
	})
	// And the other way round, with a write B's follower could not have
	// taken from A's local path.
	other, err := b.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: "+8615000150000", Category: blocklist.CategorySpam, Confidence: 90})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a block made on B matches on A", func() bool { _, ok := a.svc.Match("+8615000150000"); return ok })
	if err := a.svc.DeleteEntry(ctx, analyst, other.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an entry deleted on A stops matching on B", func() bool { _, ok := b.Match("+8615000150000"); return !ok })
	if got, want := b.Index().Seq(), a.svc.Index().Seq(); got != want {
		t.Errorf("B's index is at change %d, A's at %d", got, want)
	}
	if n := b.Index().OutOfOrder(); n != 0 {
		t.Errorf("B applied %d changes out of order", n)
	}
}

// TestWritesAreReadOnTheSameInstanceAtOnce: each kind of write returns only
// once its own index holds it. The follower polls hourly here, so only the
// write's own wake-up and wait can make this hold.
func TestWritesAreReadOnTheSameInstanceAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, idle, func(c *blocklist.Config) {
		c.AutoBlock = blocklist.AutoBlock{Reporters: 2, Window: 24 * time.Hour}
	})
	match := func(n phone.Number) bool { _, ok := e.svc.Match(n); return ok }
	en := e.create(t, "+8613800138000", blocklist.CategoryScam)
	if !match("+8613800138000") {
		t.Fatal("Match right after CreateEntry: no match")
	}
	if _, err := e.svc.UpdateEntry(ctx, analyst, en.ID, blocklist.Entry{Pattern: "+8613800138001"}, []string{"pattern"}); err != nil {
		t.Fatal(err)
	}
	if match("+8613800138000") || !match("+8613800138001") {
		t.Error("Match right after UpdateEntry still sees the old pattern")
	}
	if err := e.svc.DeleteEntry(ctx, analyst, en.ID); err != nil {
		t.Fatal(err)
	}
	if match("+8613800138001") {
		t.Error("Match right after DeleteEntry still matches")
	}
	im := e.svc.NewImporter(analyst)
	if err := im.Add(ctx, 1, blocklist.Entry{Pattern: "+86171*", Category: blocklist.CategorySpam}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if !match("+8617100000000") {
		t.Error("Match right after an import: no match")
	}
	for i := range 2 {
		if _, err := e.svc.ReportCaller(ctx, custNumber(i), scammer, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if !match(scammer) {
		t.Error("Match right after the report that auto-blocks: no match")
	}
	if _, err := e.svc.ReportCaller(ctx, custNumber(0), "+8615000150000", "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.ResolveReportedNumber(ctx, analyst, "+8615000150000", blocklist.ResolveBlock, blocklist.CategoryScam, "r"); err != nil {
		t.Fatal(err)
	}
	if !match("+8615000150000") {
		t.Error("Match right after resolving with a block: no match")
	}
}

// lostAnswer is the real store whose CreateEntry commits and then fails, as
// a shared store does when the connection drops after the write: the caller
// never learns the change.
type lostAnswer struct {
	blocklist.Store
}

func (s lostAnswer) CreateEntry(ctx context.Context, e blocklist.Entry, now time.Time, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	if _, _, err := s.Store.CreateEntry(ctx, e, now, ev); err != nil {
		return blocklist.Entry{}, blocklist.Change{}, err
	}
	return blocklist.Entry{}, blocklist.Change{}, context.DeadlineExceeded
}

func TestAWriteWhoseAnswerIsLostStillReachesTheIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *blocklist.Config) { c.Store = lostAnswer{c.Store} })
	_, err := e.svc.CreateEntry(context.Background(), analyst, blocklist.Entry{Pattern: "+8613800138000", Category: blocklist.CategoryScam})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CreateEntry: err = %v, want the store's DeadlineExceeded", err)
	}
	eventually(t, "the committed entry matches", func() bool { _, ok := e.svc.Match("+8613800138000"); return ok })
}

// TestAWriteWhoseCallerGaveUpStillReachesTheIndex: the caller gives up
// right after the commit, while the write waits for the index; the
// follower applies the change regardless. The write itself answers
// Canceled, or nil should the follower have applied the change before the
// wait first looked: both are true answers.
func TestAWriteWhoseCallerGaveUpStillReachesTheIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *blocklist.Config) { c.Store = cancelAfterCommit{Store: c.Store} })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := e.svc.CreateEntry(context.WithValue(ctx, cancelKey{}, cancel), analyst, blocklist.Entry{Pattern: "+8613800138000", Category: blocklist.CategoryScam})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateEntry: err = %v, want nil or Canceled", err)
	}
	eventually(t, "the committed entry matches", func() bool { _, ok := e.svc.Match("+8613800138000"); return ok })
}

type cancelKey struct{}

// cancelAfterCommit cancels the caller's context right after the commit.
type cancelAfterCommit struct{ blocklist.Store }

func (s cancelAfterCommit) CreateEntry(ctx context.Context, e blocklist.Entry, now time.Time, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	got, c, err := s.Store.CreateEntry(ctx, e, now, ev)
	ctx.Value(cancelKey{}).(context.CancelFunc)()
	return got, c, err
}

// TestAFollowerBeyondTheLogReloads: changes made while the follower slept
// and then trimmed from the log make it reload from a scan, and the index
// ends holding exactly the store's entries.
func TestAFollowerBeyondTheLogReloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnvWith(t, boltstore.BlocklistOptions{ChangeLogRetain: 3}, idle)
	gone := e.create(t, "+8613800138000", blocklist.CategoryScam)
	// Other writers (straight to the store: nothing wakes this follower).
	if _, _, err := e.store.DeleteEntry(ctx, gone.ID, audit.Event{Time: t0, Actor: "other", Action: "entry.delete"}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		en := blocklist.Entry{Pattern: fmt.Sprintf("+86150001500%02d", i), Kind: blocklist.KindExact, Category: blocklist.CategorySpam,
			Source: blocklist.SourceAnalyst, CreateTime: t0, UpdateTime: t0}
		if _, _, err := e.store.CreateEntry(ctx, en, t0, audit.Event{Time: t0, Actor: "other", Action: "entry.create"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.Changes(ctx, e.svc.Index().Seq(), 10); !errors.Is(err, blocklist.ErrGap) {
		t.Fatalf("the log still holds the follower's next change (err %v): the test trims nothing", err)
	}
	before := e.svc.IndexStats().Reloads
	// This instance's own write wakes the follower, which finds the gap.
	e.create(t, "+8617000000000", blocklist.CategoryScam)
	st := e.svc.IndexStats()
	if st.Reloads != before+1 {
		t.Errorf("reloads went from %d to %d, want one more", before, st.Reloads)
	}
	if _, ok := e.svc.Match("+8613800138000"); ok {
		t.Error("an entry deleted during the gap still matches")
	}
	for i := range 6 {
		if _, ok := e.svc.Match(phone.Number(fmt.Sprintf("+86150001500%02d", i))); !ok {
			t.Errorf("entry %d created during the gap does not match", i)
		}
	}
	if st.Entries != 7 {
		t.Errorf("the index holds %d entries, want 7", st.Entries)
	}
	last, err := e.store.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Seq != last {
		t.Errorf("the index is at change %d, the store at %d", st.Seq, last)
	}
}

// failing is the real store whose reads fail while down is set, as a
// store that cannot be reached fails them all.
type failing struct {
	blocklist.Store
	down *atomic.Bool
	// gate, when set, orders the reads after a write that holds it.
	gate *sync.RWMutex
}

// wait blocks while a write holds the gate.
func (s failing) wait() func() {
	if s.gate == nil {
		return func() {}
	}
	s.gate.RLock()
	return s.gate.RUnlock
}

var errRefused = fault.Unavailable(errors.New("connection refused"))

func (s failing) Changes(ctx context.Context, after uint64, limit int) ([]blocklist.Change, error) {
	defer s.wait()()
	if s.down.Load() {
		return nil, errRefused
	}
	return s.Store.Changes(ctx, after, limit)
}

func (s failing) CountEntries(ctx context.Context, f blocklist.EntryFilter) (int, error) {
	defer s.wait()()
	if s.down.Load() {
		return 0, errRefused
	}
	return s.Store.CountEntries(ctx, f)
}

func (s failing) ScanEntries(ctx context.Context, fn func(blocklist.Entry) error) (uint64, error) {
	defer s.wait()()
	if s.down.Load() {
		return 0, errRefused
	}
	return s.Store.ScanEntries(ctx, fn)
}

// TestAFollowerReloadsWhenTheStoreComesBack: a store that failed may have
// lost what it held (a restarted Redis), so the first read after it
// answers again is a full reload; lag grows while it is down.
func TestAFollowerReloadsWhenTheStoreComesBack(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	clock := clocktest.New(t0)
	e := newEnv(t, func(c *blocklist.Config) {
		c.Store = failing{Store: c.Store, down: &down}
		c.Follow = blocklist.Follow{Interval: 5 * time.Millisecond, Clock: clock.Now}
	})
	if st := e.svc.IndexStats(); st.Lag != 0 || st.Reloads != 1 || st.Failures != 0 {
		t.Fatalf("at start: %+v, want no lag, one reload (the first load), no failures", st)
	}
	down.Store(true)
	within(t, 10*time.Second, "the follower notices the store is down", func() bool { return e.svc.IndexStats().Failures > 0 })
	clock.Advance(7 * time.Second)
	if st := e.svc.IndexStats(); st.Lag < 7*time.Second {
		t.Errorf("lag while the store is down = %v, want at least 7s", st.Lag)
	}
	down.Store(false)
	within(t, 10*time.Second, "the follower reloads once the store answers", func() bool {
		st := e.svc.IndexStats()
		return st.Reloads >= 2 && st.Lag == 0
	})
	if st := e.svc.IndexStats(); st.Reloads != 2 {
		t.Errorf("reloads = %d, want 2: the first load and one after the store came back", st.Reloads)
	}
}

// downAfterCommit commits a new entry, then the store becomes unreachable,
// as a Redis that dies between a write and the follower's next read. The
// gate keeps the follower from reading in between.
type downAfterCommit struct{ failing }

func (s downAfterCommit) CreateEntry(ctx context.Context, e blocklist.Entry, now time.Time, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	s.gate.Lock()
	defer s.gate.Unlock()
	got, c, err := s.Store.CreateEntry(ctx, e, now, ev)
	s.down.Store(true)
	return got, c, err
}

// TestAWriteWhoseStoreGoesAwayBeforeTheIndexHasItFailsUnavailableAtOnce: the
// write committed, but the follower cannot read it back: the write answers
// UNAVAILABLE when the follower fails, not when the caller's deadline (here
// none) ends; once the store is back the change reaches the index.
func TestAWriteWhoseStoreGoesAwayBeforeTheIndexHasItFailsUnavailableAtOnce(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	e := newEnv(t, func(c *blocklist.Config) {
		c.Store = downAfterCommit{failing{Store: c.Store, down: &down, gate: new(sync.RWMutex)}}
		c.Follow.Interval = 5 * time.Millisecond
	})
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.CreateEntry(context.Background(), analyst, blocklist.Entry{Pattern: "+8613800138000", Category: blocklist.CategoryScam})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, fault.ErrUnavailable) {
			t.Fatalf("CreateEntry: err = %v, want UNAVAILABLE", err)
		}
	case <-time.After(10 * time.Second):
		down.Store(false) // let the write end
		t.Fatal("CreateEntry still waits for the index 10s after the store went away")
	}
	down.Store(false)
	within(t, 10*time.Second, "the committed entry matches once the store is back", func() bool { _, ok := e.svc.Match("+8613800138000"); return ok })
}

func TestLagIsTheTimeSinceTheIndexWasLastKnownCurrent(t *testing.T) {
	t.Parallel()
	clock := clocktest.New(t0)
	e := newEnv(t, func(c *blocklist.Config) { c.Follow = blocklist.Follow{Interval: time.Hour, Clock: clock.Now} })
	clock.Advance(10 * time.Second)
	if got := e.svc.IndexStats().Lag; got != 10*time.Second {
		t.Errorf("lag = %v after 10s without a poll, want 10s", got)
	}
	e.create(t, "+8613800138000", blocklist.CategoryScam)
	if got := e.svc.IndexStats().Lag; got != 0 {
		t.Errorf("lag = %v right after a poll found the index current, want 0", got)
	}
}

func TestReloadOnRequestRebuildsTheIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t, idle)
	e.create(t, "+8613800138000", blocklist.CategoryScam)
	before := e.svc.IndexStats()
	if err := e.svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := e.svc.IndexStats()
	if after.Reloads != before.Reloads+1 || after.Seq != before.Seq || after.Entries != 1 {
		t.Errorf("Reload: stats %+v -> %+v, want one more reload, same sequence, 1 entry", before, after)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reload(context.Background()); err == nil {
		t.Error("Reload after Close succeeded")
	}
}
