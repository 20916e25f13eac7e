package blocklist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/callverify/callverify/internal/fault"
)

// ErrGap says that the store's change log no longer holds the changes a
// follower asked for (they were trimmed, or the store's sequence is behind
// the follower's because it lost data or was replaced). Stores wrap it; the
// follower answers it with a full reload.
var ErrGap = errors.New("blocklist: the change log no longer holds the changes asked for")

// Follow tunes the follower that keeps a Service's index in step with the
// store's change log.
type Follow struct {
	// Interval is how long the follower waits between polls of the change
	// log when nothing wakes it; 150ms when zero. A write through this
	// Service wakes it at once.
	Interval time.Duration
	// Batch is how many changes one read of the log takes; 16384 when
	// zero (an index applies a bulk import's changes in fewer, larger
	// merges: BenchmarkImport's index took 1.97 s of CPU for 1M rows at
	// 4096, 1.44 s at 16384).
	Batch int
	// Clock measures lag; time.Now when nil. It is not Config.Now: a test
	// that moves the domain's clock by days must not make the index look
	// stale.
	Clock func() time.Time
	// Snapshot, when set, is a file for the index snapshot (see
	// index_snapshot.go): Close writes it, and NewService starts from it
	// when the store's change log proves it current, instead of scanning
	// the store. It belongs to one store: put it beside the store's file.
	Snapshot string
	// Snapshots, when set (and Snapshot is not), keep the snapshot in a
	// store shared by every instance (Redis): NewService starts from it as
	// from the file; the follower saves it every SnapshotEvery, and Close
	// saves it too. The SnapshotStore lets one instance at a time write.
	Snapshots SnapshotStore
	// SnapshotEvery is how often the follower offers Snapshots a new
	// snapshot; 10 minutes when zero. A start replays the change log
	// written since the snapshot, so it bounds that replay, and the log
	// must hold more changes than that time sees (else a start scans).
	SnapshotEvery time.Duration
}

// IndexStats describe the follower, for metrics and readiness.
type IndexStats struct {
	// Seq is the last change the index holds.
	Seq uint64
	// Entries is how many entries the index holds, expired ones included.
	Entries int
	// Lag is how long ago the index was last known to hold every change
	// the store had: the start of the last read of the change log (or of
	// the last full scan) that left nothing unapplied. A healthy follower
	// keeps it near Follow.Interval; it grows while the store fails.
	Lag time.Duration
	// Reloads counts full reloads from a scan of the store, the one at
	// start included unless the start read a snapshot.
	Reloads uint64
	// Failures counts reads of the store that failed.
	Failures uint64
}

// follower is the only writer of a Service's index. It reads the store's
// change log after the index's sequence and applies what it finds in
// order; a gap in the log, or a failure of the store once the store answers
// again, makes it rebuild the index from a full scan and replay from the
// scan's sequence.
type follower struct {
	store    Store
	index    *Index
	clock    func() time.Time
	interval time.Duration
	batch    int
	snapshot string
	snaps    SnapshotStore
	every    time.Duration
	// savedSeq is the index's sequence at the last snapshot it offered
	// Snapshots; only the follower's goroutine (or Close, after it
	// stopped) touches it.
	savedSeq uint64

	wake   chan struct{} // buffered 1: a poke never blocks and never piles up
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	// progress is closed, and replaced, whenever the index moves, so
	// writers waiting for their sequence look again.
	progress chan struct{}
	current  time.Time // when the index was last known current
	reloads  uint64
	failures uint64
	// reload is set when the next step must start with a full reload: the
	// store failed, or Reload asked for one.
	reload  bool
	lastErr error
}

func newFollower(store Store, index *Index, f Follow) *follower {
	if f.Interval <= 0 {
		f.Interval = 150 * time.Millisecond
	}
	if f.Batch <= 0 {
		f.Batch = 16384
	}
	if f.Clock == nil {
		f.Clock = time.Now
	}
	if f.SnapshotEvery <= 0 {
		f.SnapshotEvery = 10 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &follower{
		store: store, index: index, clock: f.Clock, interval: f.Interval, batch: f.Batch, snapshot: f.Snapshot,
		snaps: f.Snapshots, every: f.SnapshotEvery,
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		progress: make(chan struct{}),
	}
}

// start runs the follower until stop.
func (f *follower) start() { go f.run() }

// stop ends the follower and waits for it.
func (f *follower) stop() {
	f.cancel()
	<-f.done
}

func (f *follower) run() {
	defer close(f.done)
	t := time.NewTimer(f.interval)
	defer t.Stop()
	var snap <-chan time.Time
	if f.snaps != nil && f.snapshot == "" {
		tick := time.NewTicker(f.every)
		defer tick.Stop()
		snap = tick.C
	}
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-snap:
			// Here, in the index's only writer: the index holds still
			// while it is written.
			f.saveShared(f.ctx)
			continue
		case <-f.wake:
		case <-t.C:
		}
		f.step(f.ctx)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(f.interval)
	}
}

// poke wakes the follower for a poll now.
func (f *follower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// maxReloadsPerStep bounds reloads in one step, should the log be trimmed
// faster than a scan takes.
const maxReloadsPerStep = 3

// step reads the change log until the index is current, reloading on a
// gap, or until the store fails.
func (f *follower) step(ctx context.Context) {
	f.mu.Lock()
	reload := f.reload
	f.mu.Unlock()
	reloads := 0
	for {
		if reload {
			if reloads++; reloads > maxReloadsPerStep {
				return
			}
			if err := f.load(ctx); err != nil {
				f.fail(err)
				return
			}
			reload = false
		}
		started := f.clock()
		after := f.index.Seq()
		chs, err := f.store.Changes(ctx, after, f.batch)
		switch {
		case errors.Is(err, ErrGap):
			reload = true
			continue
		case err != nil:
			f.fail(err)
			return
		}
		for i, c := range chs {
			if c.Seq != after+1+uint64(i) {
				// The log skipped a number: a store that breaks its
				// contract is answered like a gap.
				reload = true
				break
			}
		}
		if reload {
			continue
		}
		f.index.Apply(chs...)
		f.moved(len(chs) < f.batch, started)
		if len(chs) < f.batch {
			return
		}
	}
}

// load rebuilds the index from a full scan of the store: the scan's
// snapshot and its sequence are one, so replaying the log from that
// sequence on misses nothing and repeats nothing.
func (f *follower) load(ctx context.Context) error {
	started := f.clock()
	hint, err := f.store.CountEntries(ctx, EntryFilter{})
	if err != nil {
		return fmt.Errorf("blocklist: count entries: %w", err)
	}
	b := NewIndexBuilder(hint)
	scan := f.store.ScanEntries
	if is, ok := f.store.(IndexScanner); ok {
		scan = is.ScanIndexEntries
	}
	seq, err := scan(ctx, func(e Entry) error {
		b.Add(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: scan entries: %w", err)
	}
	x, err := b.Build(seq)
	if err != nil {
		return err
	}
	if err := f.loadOfficials(ctx, x); err != nil {
		return err
	}
	// The official numbers are listed after the scan: the changes since the
	// scan go in before x is published, or their older half would roll the
	// listing back until the follower's next step. A replay that fails is
	// left to that step, which reloads on a gap.
	_ = f.replay(ctx, x)
	f.index.replace(x)
	// A scan of 10M entries leaves some 20 bytes an entry of garbage
	// (the builder's arrays) that the runtime would keep in the
	// process's memory for minutes; a reload is rare enough to pay for
	// handing it back now.
	if x.Len() >= 1<<20 {
		debug.FreeOSMemory()
	}
	f.mu.Lock()
	f.reload = false
	f.reloads++
	f.mu.Unlock()
	f.moved(true, started)
	return nil
}

// replay applies to x, not yet published, the store's changes after its
// sequence, up to the last; it fails on a read error or a gap.
func (f *follower) replay(ctx context.Context, x *Index) error {
	for {
		after := x.seq
		chs, err := f.store.Changes(ctx, after, f.batch)
		if err != nil {
			return err
		}
		for i, c := range chs {
			if c.Seq != after+1+uint64(i) {
				return fmt.Errorf("blocklist: change %d where %d was due: %w", c.Seq, after+1+uint64(i), ErrGap)
			}
		}
		x.Apply(chs...)
		if len(chs) < f.batch {
			return nil
		}
	}
}

// officialsPage is how many official numbers one read of the store lists
// when the index loads them.
const officialsPage = 1000

// loadOfficials gives x, just loaded from a scan or a snapshot, the
// official numbers the store lists now; the replay of the change log from
// x's sequence that follows brings them up to date (Index.setOfficials).
// Official numbers are not in the index snapshot: they are few, a listing
// is a few reads, and a store written before official numbers were in the
// change log lists them all the same.
func (f *follower) loadOfficials(ctx context.Context, x *Index) error {
	var all []OfficialNumber
	after := ""
	for {
		page, err := f.store.ListOfficialNumbers(ctx, after, officialsPage)
		if err != nil {
			return fmt.Errorf("blocklist: list official numbers: %w", err)
		}
		all = append(all, page...)
		if len(page) < officialsPage {
			break
		}
		after = page[len(page)-1].Number.String()
	}
	x.setOfficials(all)
	return nil
}

// readErr returns nil when the follower's last read of the store
// succeeded, else that read's error: what the index holds may then be
// behind the store by the length of the outage.
func (f *follower) readErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// loadFirst loads the index when the service starts: from the snapshot
// when there is one that the store's change log proves current, then the
// log's later changes; from a full scan otherwise.
func (f *follower) loadFirst(ctx context.Context) error {
	if f.snapshot != "" && f.loadSnapshot(ctx, func() (*Index, [32]byte, error) { return readSnapshot(f.snapshot) }) {
		return nil
	}
	if f.snapshot == "" && f.snaps != nil && f.loadSnapshot(ctx, func() (*Index, [32]byte, error) {
		b, err := f.snaps.LoadSnapshot(ctx)
		if err != nil {
			return nil, [32]byte{}, err
		}
		return decodeSnapshot(b)
	}) {
		f.savedSeq = f.index.Seq()
		return nil
	}
	return f.load(ctx)
}

// loadSnapshot reports whether it loaded the index from the snapshot read
// and the change log after it; any doubt is false, and the caller scans.
func (f *follower) loadSnapshot(ctx context.Context, read func() (*Index, [32]byte, error)) bool {
	started := f.clock()
	x, digest, err := read()
	if err != nil {
		return false
	}
	var last []Change
	if x.seq > 0 {
		if last, err = f.store.Changes(ctx, x.seq-1, 1); err != nil {
			return false
		}
	}
	if !snapshotOK(x, digest, last) {
		return false
	}
	if f.loadOfficials(ctx, x) != nil {
		return false
	}
	if f.replay(ctx, x) != nil {
		return false
	}
	f.index.replace(x)
	f.moved(true, started)
	return true
}

// saveSnapshot writes the index's snapshot with the digest of its last
// change, as the store's log has it. The follower must be stopped.
func (f *follower) saveSnapshot(ctx context.Context) error {
	if f.snapshot == "" {
		return f.saveShared(ctx)
	}
	last, err := f.lastChange(ctx)
	if err != nil {
		return err
	}
	if err := writeSnapshot(f.snapshot, f.index, last); err != nil {
		return fmt.Errorf("blocklist: write the index snapshot: %w", err)
	}
	return nil
}

// lastChange is the index's last change as the store's log has it (the
// zero Change for an empty history).
func (f *follower) lastChange(ctx context.Context) (Change, error) {
	seq := f.index.Seq()
	if seq == 0 {
		return Change{}, nil
	}
	chs, err := f.store.Changes(ctx, seq-1, 1)
	if err != nil && !errors.Is(err, ErrGap) {
		return Change{}, fmt.Errorf("blocklist: no index snapshot: read change %d: %w", seq, err)
	}
	if err != nil || len(chs) != 1 || chs[0].Seq != seq {
		return Change{}, fmt.Errorf("blocklist: no index snapshot: %w", errNoLastChange)
	}
	return chs[0], nil
}

// errNoLastChange: the store's log does not hold the index's last change
// (trimmed, or a store whose sequence starts above 0 with no change yet),
// so a snapshot could not prove itself current to the next start.
var errNoLastChange = errors.New("the store's log does not hold the index's last change")

// saveShared offers Snapshots the index's snapshot when it moved since the
// last one offered. Only the follower's goroutine, or Close after it
// stopped, calls it. A failure is left for the next time: a start without
// a recent snapshot scans, which is slower but right.
func (f *follower) saveShared(ctx context.Context) error {
	seq := f.index.Seq()
	if f.snaps == nil || seq == f.savedSeq {
		return nil
	}
	last, err := f.lastChange(ctx)
	if errors.Is(err, errNoLastChange) {
		return nil // no use saving: the next start would scan anyway
	}
	if err != nil {
		return err
	}
	if _, err := f.snaps.SaveSnapshot(ctx, seq, func(w io.Writer) error { return encodeSnapshot(w, f.index, last) }); err != nil {
		return fmt.Errorf("blocklist: save the index snapshot: %w", err)
	}
	f.savedSeq = seq
	return nil
}

// moved wakes the writers waiting for the index; when current, the index
// held everything the store had at since.
func (f *follower) moved(current bool, since time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if current && since.After(f.current) {
		f.current = since
	}
	f.lastErr = nil
	close(f.progress)
	f.progress = make(chan struct{})
}

// fail records a failed read; the next step starts with a full reload, as
// changes may have been lost with the store (a restarted Redis).
func (f *follower) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return // stopping
	}
	f.failures++
	f.reload = true
	f.lastErr = err
	close(f.progress)
	f.progress = make(chan struct{})
}

// waitFor returns once the index holds change seq, or ctx ends, or the
// follower stops, or the follower fails to read the store after the wait
// began: the store has become unreachable, and the writer answers
// UNAVAILABLE at once rather than when its deadline ends (its change is
// saved, and the follower applies it once the store answers again).
func (f *follower) waitFor(ctx context.Context, seq uint64) error {
	f.mu.Lock()
	failures := f.failures
	f.mu.Unlock()
	for {
		f.mu.Lock()
		ch, failed, lastErr := f.progress, f.failures > failures, f.lastErr
		f.mu.Unlock()
		// ch is taken before the index is read, so a change applied after
		// the read closes this very channel.
		if f.index.Seq() >= seq {
			return nil
		}
		if failed && lastErr != nil {
			return fault.Unavailable(fmt.Errorf("blocklist: the index cannot read change %d from the store: %w", seq, lastErr))
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("blocklist: waiting for the index to reach change %d: %w", seq, ctx.Err())
		case <-f.done:
			return errors.New("blocklist: the service is closed")
		}
	}
}

// forceReload makes the follower reload and returns once it has, or once
// the reload has failed.
func (f *follower) forceReload(ctx context.Context) error {
	f.mu.Lock()
	want, failures := f.reloads+1, f.failures
	f.reload = true
	f.mu.Unlock()
	f.poke()
	for {
		f.mu.Lock()
		ch, got, failed, err := f.progress, f.reloads, f.failures > failures, f.lastErr
		f.mu.Unlock()
		switch {
		case got >= want:
			return nil
		case failed && err != nil:
			return fmt.Errorf("blocklist: reload: %w", err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			return errors.New("blocklist: the service is closed")
		}
	}
}

func (f *follower) stats() IndexStats {
	f.mu.Lock()
	st := IndexStats{Reloads: f.reloads, Failures: f.failures, Lag: max(f.clock().Sub(f.current), 0)}
	f.mu.Unlock()
	st.Seq, st.Entries = f.index.Seq(), f.index.Len()
	return st
}
