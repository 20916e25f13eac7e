package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Entries are keyed by their packed pattern (packPattern), so the
// unique-pattern rule, the import's match on pattern and the official-number
// checks are all point reads. The entries bucket's sequence is the
// blocklist's change counter; the ID blocks' sequence issues entry IDs.
var (
	bEntries     = []byte("blocklist/entries.v2")   // packed pattern -> record (encodeRecord)
	bEntryCounts = []byte("blocklist/entry_counts") // [category, source] -> uint64 count
	// bChanges is the change log: big-endian sequence -> appendChange's encoding,
	// or the first of a run of changes -> the run (changeRun). Every
	// change is appended in the transaction that makes it, as a run when
	// the transaction makes several, and that transaction trims the log
	// to the store's retention: the log holds the last ChangeLogRetain
	// changes and no record older than them.
	bChanges = []byte("blocklist/changes")
)

// entryTx is one transaction's view of the entry buckets.
type entryTx struct {
	tx                    *bolt.Tx
	entries, cnt, changes *bolt.Bucket
	ids                   idBlocks
	dict                  dict
	counts                map[[2]byte]int64 // pending count deltas, written at the end
	// retain is how many changes the log keeps; 0 in a transaction that
	// only reads.
	retain uint64
	// logged holds the changes logged and not yet written (each its
	// length, then its encoding) after runHeader bytes kept for a run's
	// header; loggedFirst and loggedN say which.
	logged               []byte
	loggedFirst, loggedN uint64
	// scratch is a change's encoding on its way into logged.
	scratch []byte
	// cur reads entries by pattern: one cursor for the whole
	// transaction, whose stack every lookup reuses.
	cur *bolt.Cursor
	// internReasons puts reasons in the dictionary (imports, which repeat
	// them); an analyst's reason is stored inline. Authors always go in.
	internReasons bool
}

func newEntryTx(tx *bolt.Tx) *entryTx {
	return &entryTx{
		tx: tx, entries: tx.Bucket(bEntries), cnt: tx.Bucket(bEntryCounts), changes: tx.Bucket(bChanges),
		ids:    idBlocks{b: tx.Bucket(bIDBlocks)},
		dict:   dict{strs: tx.Bucket(bStrings), byID: tx.Bucket(bStringsByID)},
		counts: map[[2]byte]int64{},
	}
}

// entryTx is newEntryTx for a transaction that writes entries: it trims the
// change log to the store's retention.
func (s *BlocklistStore) entryTx(tx *bolt.Tx) *entryTx {
	t := newEntryTx(tx)
	t.retain = uint64(s.retain)
	return t
}

// logChange adds c to the changes this transaction logs; writeLog writes
// them. The changes of one transaction are numbered one after the other.
func (t *entryTx) logChange(c blocklist.Change) error {
	if t.loggedN == 0 {
		t.loggedFirst = c.Seq
	} else if c.Seq != t.loggedFirst+t.loggedN {
		return fmt.Errorf("change %d logged after %d", c.Seq, t.loggedFirst+t.loggedN-1)
	}
	t.scratch = appendChange(t.scratch[:0], c)
	if t.logged == nil {
		t.logged = make([]byte, runHeader, 4096)
	}
	t.logged = binary.AppendUvarint(t.logged, uint64(len(t.scratch)))
	t.logged = append(t.logged, t.scratch...)
	t.loggedN++
	return nil
}

// runHeader is the room a run's header takes at most: changeRun and the
// number of changes.
const runHeader = 1 + binary.MaxVarintLen64

// writeLog appends the changes logged to the change log, a single change
// as itself and several as a run, and trims the log.
func (t *entryTx) writeLog() error {
	if t.loggedN == 0 {
		return t.trimChanges()
	}
	var v []byte
	if t.loggedN == 1 {
		_, w := binary.Uvarint(t.logged[runHeader:])
		v = t.logged[runHeader+w:]
	} else {
		var h [runHeader]byte
		n := len(binary.AppendUvarint(append(h[:0], changeRun), t.loggedN))
		v = t.logged[runHeader-n:]
		copy(v, h[:n])
	}
	t.changes.FillPercent = 1 // appended in key order, trimmed from the front
	if err := t.changes.Put(binary.BigEndian.AppendUint64(nil, t.loggedFirst), v); err != nil {
		return err
	}
	// bbolt keeps v until the commit: the next changes go in a new buffer.
	t.logged, t.loggedN = nil, 0
	return t.trimChanges()
}

// trimChanges drops the records of the log whose changes are all older
// than the last t.retain. The keys are gathered first and deleted after:
// bbolt's cursor skips a key when stepped after a delete. A transaction
// trims once, when it writes its changes (writeLog).
func (t *entryTx) trimChanges() error {
	last := t.entries.Sequence()
	if t.retain == 0 || last <= t.retain {
		return nil
	}
	keepFrom := last - t.retain + 1
	c := t.changes.Cursor()
	var old []uint64
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := readChangeRecord(k, v)
		if err != nil {
			return fmt.Errorf("change log record %x: %w", k, err)
		}
		if r.last() >= keepFrom {
			break
		}
		old = append(old, r.first)
	}
	var key [8]byte
	for _, seq := range old {
		binary.BigEndian.PutUint64(key[:], seq)
		if err := t.changes.Delete(key[:]); err != nil {
			return err
		}
	}
	return nil
}

// decode decodes the record v stored under key.
func (t *entryTx) decode(key, v []byte) (blocklist.Entry, error) {
	p, err := unpackPattern(key)
	if err != nil {
		return blocklist.Entry{}, fmt.Errorf("entry key %x: %w", key, err)
	}
	e, err := decodeRecord(p, v, t.dict.lookup)
	if err != nil {
		return blocklist.Entry{}, fmt.Errorf("entry %q: %w", p, err)
	}
	return e, nil
}

func (t *entryTx) get(pattern string) (blocklist.Entry, bool, error) {
	k := patternKeyOf(pattern)
	if k == nil {
		return blocklist.Entry{}, false, nil
	}
	if t.cur == nil {
		t.cur = t.entries.Cursor()
	}
	// Seek, not Get: Get makes a cursor for each lookup.
	ck, v := t.cur.Seek(k)
	if v == nil || !bytes.Equal(ck, k) {
		return blocklist.Entry{}, false, nil
	}
	e, err := t.decode(k, v)
	return e, err == nil, err
}

func (t *entryTx) byID(id string) (blocklist.Entry, error) {
	seq, ok := idSeq(id)
	if !ok {
		return blocklist.Entry{}, fault.ErrNotFound
	}
	k := t.ids.pattern(seq)
	if k == nil {
		return blocklist.Entry{}, fault.ErrNotFound
	}
	v := t.entries.Get(k)
	if v == nil {
		return blocklist.Entry{}, fmt.Errorf("entry id %s points at a missing pattern", id)
	}
	return t.decode(k, v)
}

// put writes e with a fresh change number (and a fresh ID when it has none)
// and returns what it wrote with its change.
func (t *entryTx) put(e blocklist.Entry) (blocklist.Entry, blocklist.Change, error) {
	k := patternKeyOf(e.Pattern)
	if k == nil {
		return e, blocklist.Change{}, fault.Invalid("pattern", "is not a canonical pattern")
	}
	if e.ID == "" {
		n, err := t.ids.b.NextSequence()
		if err != nil {
			return e, blocklist.Change{}, err
		}
		e.ID = idString(n)
		t.ids.set(n, k)
	}
	seq, err := t.entries.NextSequence()
	if err != nil {
		return e, blocklist.Change{}, err
	}
	e.Rev = seq
	reason := strRef{s: e.Reason}
	if t.internReasons {
		if reason, err = t.dict.ref(e.Reason); err != nil {
			return e, blocklist.Change{}, err
		}
	}
	by, err := t.dict.ref(e.CreateBy)
	if err != nil {
		return e, blocklist.Change{}, err
	}
	if err := t.entries.Put(k, encodeRecord(e, reason, by)); err != nil {
		return e, blocklist.Change{}, err
	}
	t.counts[[2]byte{byte(e.Category), byte(e.Source)}]++
	c := blocklist.Change{Seq: seq, Op: blocklist.ChangePut, Entry: e}
	return e, c, t.logChange(c)
}

// remove deletes e's pattern record (and its ID when dropID) and returns the
// change.
func (t *entryTx) remove(e blocklist.Entry, dropID bool) (blocklist.Change, error) {
	if err := t.entries.Delete(patternKeyOf(e.Pattern)); err != nil {
		return blocklist.Change{}, err
	}
	if dropID {
		if n, ok := idSeq(e.ID); ok {
			t.ids.set(n, nil)
		}
	}
	t.counts[[2]byte{byte(e.Category), byte(e.Source)}]--
	seq, err := t.entries.NextSequence()
	if err != nil {
		return blocklist.Change{}, err
	}
	c := blocklist.Change{Seq: seq, Op: blocklist.ChangeDelete, Entry: e}
	return c, t.logChange(c)
}

// flushCounts writes the pending count deltas, ID blocks and changes and
// trims the change log; every write of entries ends with it.
func (t *entryTx) flushCounts() error {
	if err := t.ids.flush(); err != nil {
		return err
	}
	if err := t.writeLog(); err != nil {
		return err
	}
	for k, d := range t.counts {
		if d == 0 {
			continue
		}
		var n int64
		if v := t.cnt.Get(k[:]); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		if err := t.cnt.Put(k[:], binary.BigEndian.AppendUint64(nil, uint64(max(n+d, 0)))); err != nil {
			return err
		}
	}
	clear(t.counts)
	return nil
}

// officialConflict returns a *blocklist.ConflictError when e, active at now,
// matches a registered official number.
func (t *entryTx) officialConflict(e blocklist.Entry, now time.Time) error {
	if !e.ActiveAt(now) {
		return nil
	}
	b := t.tx.Bucket(bOfficial)
	if e.Kind != blocklist.KindPrefix {
		if b.Get([]byte(e.Pattern)) != nil {
			return &blocklist.ConflictError{EntryID: e.ID, Pattern: e.Pattern, Number: phone.Number(e.Pattern)}
		}
		return nil
	}
	prefix := []byte(strings.TrimSuffix(e.Pattern, "*"))
	if k, _ := b.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		return &blocklist.ConflictError{EntryID: e.ID, Pattern: e.Pattern, Number: phone.Number(k)}
	}
	return nil
}

// blConflictWithOfficial returns a *blocklist.ConflictError when an entry
// active at now matches n: the exact entry for n or a prefix entry of any
// length, longest first.
func blConflictWithOfficial(tx *bolt.Tx, n phone.Number, now time.Time) error {
	t := newEntryTx(tx)
	digits := n.Digits()
	candidates := []string{n.String()}
	for l := len(digits); l >= 1; l-- {
		candidates = append(candidates, "+"+digits[:l]+"*")
	}
	for _, p := range candidates {
		e, ok, err := t.get(p)
		if err != nil {
			return err
		}
		if ok && e.ActiveAt(now) {
			return &blocklist.ConflictError{EntryID: e.ID, Pattern: e.Pattern, Number: n}
		}
	}
	return nil
}

// CreateEntry implements blocklist.Store.
func (s *BlocklistStore) CreateEntry(ctx context.Context, e blocklist.Entry, now time.Time, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Entry{}, blocklist.Change{}, err
	}
	e.ID = ""
	var c blocklist.Change
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.entryTx(tx)
		if _, ok, err := t.get(e.Pattern); err != nil || ok {
			if err == nil {
				err = fault.ErrAlreadyExists
			}
			return err
		}
		if err := t.officialConflict(e, now); err != nil {
			return err
		}
		var err error
		if e, c, err = t.put(e); err != nil {
			return err
		}
		if err := t.flushCounts(); err != nil {
			return err
		}
		_, err = appendAudit(tx, blocklist.EntryEvent(ev, nil, &e))
		return err
	})
	if err != nil {
		return blocklist.Entry{}, blocklist.Change{}, storeErr(err)
	}
	return e, c, nil
}

// GetEntry implements blocklist.Store.
func (s *BlocklistStore) GetEntry(ctx context.Context, id string) (blocklist.Entry, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Entry{}, err
	}
	var e blocklist.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = newEntryTx(tx).byID(id)
		return err
	})
	return e, storeErr(err)
}

// GetEntryByPattern implements blocklist.Store.
func (s *BlocklistStore) GetEntryByPattern(ctx context.Context, pattern string) (blocklist.Entry, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Entry{}, err
	}
	var e blocklist.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		var ok bool
		var err error
		e, ok, err = newEntryTx(tx).get(pattern)
		if err == nil && !ok {
			err = fault.ErrNotFound
		}
		return err
	})
	return e, storeErr(err)
}

// UpdateEntry implements blocklist.Store.
func (s *BlocklistStore) UpdateEntry(ctx context.Context, e blocklist.Entry, rev uint64, now time.Time, ev audit.Event) (blocklist.Entry, []blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Entry{}, nil, err
	}
	var chs []blocklist.Change
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.entryTx(tx)
		cur, err := t.byID(e.ID)
		if err != nil {
			return err
		}
		if cur.Rev != rev {
			return fmt.Errorf("entry %s changed since revision %d: %w", e.ID, rev, fault.ErrConflict)
		}
		e.CreateBy, e.CreateTime = cur.CreateBy, cur.CreateTime
		if e.Pattern != cur.Pattern {
			if _, taken, err := t.get(e.Pattern); err != nil || taken {
				if err == nil {
					err = fault.ErrAlreadyExists
				}
				return err
			}
		}
		if err := t.officialConflict(e, now); err != nil {
			return err
		}
		if e.Pattern != cur.Pattern {
			c, err := t.remove(cur, false)
			if err != nil {
				return err
			}
			chs = append(chs, c)
			n, ok := idSeq(e.ID)
			k := patternKeyOf(e.Pattern)
			if !ok || k == nil {
				return fmt.Errorf("entry %s: %w", e.ID, errBadRecord)
			}
			t.ids.set(n, k)
		} else {
			t.counts[[2]byte{byte(cur.Category), byte(cur.Source)}]--
		}
		var c blocklist.Change
		if e, c, err = t.put(e); err != nil {
			return err
		}
		chs = append(chs, c)
		if err := t.flushCounts(); err != nil {
			return err
		}
		_, err = appendAudit(tx, blocklist.EntryEvent(ev, &cur, &e))
		return err
	})
	if err != nil {
		return blocklist.Entry{}, nil, storeErr(err)
	}
	return e, chs, nil
}

// DeleteEntry implements blocklist.Store.
func (s *BlocklistStore) DeleteEntry(ctx context.Context, id string, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Entry{}, blocklist.Change{}, err
	}
	var old blocklist.Entry
	var c blocklist.Change
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.entryTx(tx)
		var err error
		if old, err = t.byID(id); err != nil {
			return err
		}
		if c, err = t.remove(old, true); err != nil {
			return err
		}
		if err := t.flushCounts(); err != nil {
			return err
		}
		_, err = appendAudit(tx, blocklist.EntryEvent(ev, &old, nil))
		return err
	})
	if err != nil {
		return blocklist.Entry{}, blocklist.Change{}, storeErr(err)
	}
	return old, c, nil
}

// ListEntries implements blocklist.Store.
func (s *BlocklistStore) ListEntries(ctx context.Context, f blocklist.EntryFilter, after string, limit int) ([]blocklist.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []blocklist.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		t := newEntryTx(tx)
		c := t.entries.Cursor()
		k, v, err := seekAfter(ctx, c, after)
		if err != nil {
			return err
		}
		for i := 0; k != nil && len(out) < limit; k, v = c.Next() {
			// A filtered page may have to skip far; the deadline bounds it.
			if i++; i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			// Filter on the record's fixed header before decoding it.
			if len(v) >= headerLen && (f.Category != 0 && blocklist.Category(v[2]) != f.Category ||
				f.Source != 0 && blocklist.Source(v[3]) != f.Source) {
				continue
			}
			e, err := t.decode(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, storeErr(err)
}

// seekAfter positions c at the first entry whose pattern sorts after
// after. A page token holds a stored pattern, found by one seek; any other
// string seeks to the key of its longest prefix that packs and steps past
// the patterns up to after.
func seekAfter(ctx context.Context, c *bolt.Cursor, after string) (k, v []byte, err error) {
	switch {
	case after == "":
		k, v = c.First()
		return k, v, nil
	case after[0] != '+':
		if after < "+" {
			k, v = c.First()
		}
		return k, v, nil
	}
	n := 1
	for n < len(after) && n <= 2*maxPackedPattern {
		if _, ok := nibble(after[n]); !ok {
			break
		}
		n++
	}
	pk, pn, _ := packPattern(after[:n])
	for k, v = c.Seek(pk[:pn]); k != nil; k, v = c.Next() {
		p, err := unpackPattern(k)
		if err != nil {
			return nil, nil, fmt.Errorf("entry key %x: %w", k, err)
		}
		if p > after {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
	}
	return k, v, nil
}

// CountEntries implements blocklist.Store.
func (s *BlocklistStore) CountEntries(ctx context.Context, f blocklist.EntryFilter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = countEntries(tx.Bucket(bEntryCounts), f)
		return nil
	})
	return int(n), storeErr(err)
}

// countEntries sums the counts (bEntryCounts) of the entries f selects.
func countEntries(cnt *bolt.Bucket, f blocklist.EntryFilter) int64 {
	var n int64
	_ = cnt.ForEach(func(k, v []byte) error {
		if len(k) != 2 || len(v) != 8 {
			return nil
		}
		if f.Category != 0 && blocklist.Category(k[0]) != f.Category || f.Source != 0 && blocklist.Source(k[1]) != f.Source {
			return nil
		}
		n += int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return n
}

// ScanEntries implements blocklist.Store. One read transaction is one
// snapshot: the sequence it returns is exactly what the scan saw.
func (s *BlocklistStore) ScanEntries(ctx context.Context, fn func(blocklist.Entry) error) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		defer evictMapped(tx)
		t := newEntryTx(tx)
		seq = t.entries.Sequence()
		c := t.entries.Cursor()
		i := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if i++; i%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			e, err := t.decode(k, v)
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	return seq, storeErr(err)
}

// ScanIndexEntries implements blocklist.IndexScanner: ScanEntries that
// reads each record's fixed header (and expiry) only, and leaves the pages
// it read out of the process's resident memory (see evictMapped).
func (s *BlocklistStore) ScanIndexEntries(ctx context.Context, fn func(blocklist.Entry) error) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		defer evictMapped(tx)
		b := tx.Bucket(bEntries)
		seq = b.Sequence()
		c := b.Cursor()
		i := 0
		// The patterns are unpacked into one buffer (see
		// blocklist.IndexScanner): 10M strings would be 10M allocations.
		var buf [1 + 2*maxPackedPattern]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if i++; i%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				// Evict as it goes, so that at no time the whole file
				// is resident.
				evictMapped(tx)
			}
			var e blocklist.Entry
			n, ok := unpackPatternInto(&buf, k)
			if !ok || !decodeIndexFields(v, &e) {
				return fmt.Errorf("entry key %x: %w", k, errBadRecord)
			}
			e.Pattern = unsafe.String(&buf[0], n)
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	return seq, storeErr(err)
}

// ImportEntries implements blocklist.Store.
func (s *BlocklistStore) ImportEntries(ctx context.Context, batch []blocklist.Entry, now time.Time, ev audit.Event) ([]blocklist.ImportOutcome, []blocklist.Change, error) {
	res, err := s.ImportEntryBatches(ctx, []blocklist.ImportBatchInput{{Entries: batch, Event: ev}}, now)
	if err != nil {
		return nil, nil, err
	}
	return res[0].Outcomes, res[0].Changes, nil
}

var _ blocklist.BatchImporter = (*BlocklistStore)(nil)

// ImportEntryBatches implements blocklist.BatchImporter: the batches, each
// with its event, in as few transactions as the store's ImportTxPages
// allows (most often one), so that a bulk import pays one commit (its page
// writes and its two syncs) for many batches. A page that several batches
// touch is written once.
func (s *BlocklistStore) ImportEntryBatches(ctx context.Context, batches []blocklist.ImportBatchInput, now time.Time) ([]blocklist.ImportBatchResult, error) {
	res := make([]blocklist.ImportBatchResult, 0, len(batches))
	for len(res) < len(batches) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var done []blocklist.ImportBatchResult
		err := s.db.Update(func(tx *bolt.Tx) error {
			done = done[:0]
			t := s.entryTx(tx)
			t.internReasons = true
			budget := s.importBudget(countEntries(t.cnt, blocklist.EntryFilter{}))
			for _, b := range batches[len(res):] {
				if len(done) > 0 {
					st := tx.Stats()
					if st.GetNodeCount() >= budget {
						break
					}
				}
				outs, chs, err := t.importBatch(b.Entries, now)
				if err != nil {
					return err
				}
				if _, err := appendAudit(tx, blocklist.ImportBatchEvent(b.Event, b.Entries, outs)); err != nil {
					return err
				}
				done = append(done, blocklist.ImportBatchResult{Outcomes: outs, Changes: chs})
			}
			return t.flushCounts()
		})
		if err != nil {
			return res, storeErr(err)
		}
		res = append(res, done...)
	}
	return res, nil
}

// importBatch upserts one import batch by pattern (see
// blocklist.Store.ImportEntries); the caller flushes the counts and
// appends the batch's event.
func (t *entryTx) importBatch(batch []blocklist.Entry, now time.Time) ([]blocklist.ImportOutcome, []blocklist.Change, error) {
	outs, chs := make([]blocklist.ImportOutcome, len(batch)), make([]blocklist.Change, 0, len(batch))
	for i, row := range batch {
		cur, exists, err := t.get(row.Pattern)
		if err != nil {
			return nil, nil, err
		}
		if exists {
			if cur.SameContent(row) {
				outs[i] = blocklist.ImportOutcome{Result: blocklist.ImportUnchanged, Entry: cur}
				continue
			}
			row.ID, row.CreateBy, row.CreateTime = cur.ID, cur.CreateBy, cur.CreateTime
		} else {
			row.ID = ""
		}
		if err := t.officialConflict(row, now); err != nil {
			outs[i] = blocklist.ImportOutcome{Result: blocklist.ImportRefused, Err: err}
			continue
		}
		result := blocklist.ImportCreated
		if exists {
			result = blocklist.ImportUpdated
			t.counts[[2]byte{byte(cur.Category), byte(cur.Source)}]--
		}
		e, c, err := t.put(row)
		if err != nil {
			return nil, nil, err
		}
		outs[i] = blocklist.ImportOutcome{Result: result, Entry: e}
		chs = append(chs, c)
	}
	return outs, chs, nil
}

// Changes implements blocklist.Store from the change log, in one read
// transaction: the log and the sequence it is checked against are one
// snapshot.
func (s *BlocklistStore) Changes(ctx context.Context, afterSeq uint64, limit int) ([]blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fault.Invalid("limit", "must be positive")
	}
	var out []blocklist.Change
	err := s.db.View(func(tx *bolt.Tx) error {
		last := tx.Bucket(bEntries).Sequence()
		if afterSeq == last {
			return nil
		}
		gap := func() error {
			return fault.Wrap(fault.ErrFailedPrecondition, "the change log no longer holds the changes asked for; reload",
				fmt.Errorf("changes after %d (last %d): %w", afterSeq, last, blocklist.ErrGap))
		}
		if afterSeq > last {
			return gap()
		}
		// The record that holds change afterSeq+1 is keyed by it or, in
		// a run, by an earlier change.
		want := afterSeq + 1
		c := tx.Bucket(bChanges).Cursor()
		k, v := c.Seek(binary.BigEndian.AppendUint64(nil, want))
		if k == nil {
			k, v = c.Last()
		} else if binary.BigEndian.Uint64(k) != want {
			k, v = c.Prev()
		}
		if k == nil {
			return gap()
		}
		r, err := readChangeRecord(k, v)
		if err != nil {
			return fmt.Errorf("change log record %x: %w", k, err)
		}
		if r.first > want || r.last() < want {
			return gap()
		}
		out = make([]blocklist.Change, 0, min(uint64(limit), last-afterSeq))
		for {
			if out, err = r.changes(out, want, limit-len(out)); err != nil {
				return fmt.Errorf("change log record %x: %w", k, err)
			}
			if len(out) == limit {
				return nil
			}
			if k, v = c.Next(); k == nil {
				return nil
			}
			if r, err = readChangeRecord(k, v); err != nil {
				return fmt.Errorf("change log record %x: %w", k, err)
			}
		}
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return out, nil
}
