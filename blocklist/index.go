package blocklist

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// ChangeOp is what a Change does to the entry it carries.
type ChangeOp uint8

const (
	// ChangePut creates or replaces the entry with the Change's pattern.
	ChangePut ChangeOp = iota + 1
	// ChangeDelete removes the entry with the Change's pattern.
	ChangeDelete
)

func (o ChangeOp) String() string {
	switch o {
	case ChangePut:
		return "put"
	case ChangeDelete:
		return "delete"
	}
	return "unknown"
}

// Change is one ordered event in the life of the blocklist. The store gives
// every committed entry write a sequence number one higher than the last
// (an update that moves an entry to a new pattern is a delete and a put), so
// a follower that has applied every change up to Seq holds the same
// blocklist as the store did then. The Service applies the changes its own
// writes return; a shared backend will also deliver other instances'
// changes through the same Index.Apply, and the same stream is what a
// published delta is made of.
type Change struct {
	Seq   uint64
	Op    ChangeOp
	Entry Entry // for ChangeDelete, the entry as it was
}

// Index answers "which active entry matches this number" from memory, with
// no store round trip and no allocation for an exact match.
//
// Layout. Each entry is one uint64: the pattern's digits as an integer
// (15 digits < 2^50), scrambled by a bijective 50-bit hash, in the high 50
// bits, and category, source, confidence, "has an expiry" and "deleted" in
// the low 14. Exact numbers are one array sorted by that value; prefixes
// one array per digit count, so a lookup tries the exact array and then
// each prefix length that has entries, longest first. Because the hash
// spreads any set of numbers evenly, the top bits of a value say where it
// sits: a directory of one uint32 per 32 entries (0.125 B/entry) leads
// straight to a bucket of about 32 values, one or two cache lines, where
// a search tree over 10M raw numbers would touch a dozen. Expiry times,
// which most entries lack, are kept in a parallel sparse array.
//
// Updates. The arrays are immutable once published: a reader loads one
// snapshot pointer and never takes a lock. Changes go into a small sorted
// delta (with tombstones) that shadows the base; when the delta outgrows
// a fraction of the base it is merged in. A writer builds the new delta or
// base beside the old one and swaps the pointer.
type Index struct {
	mu      sync.Mutex // serialises writers
	snap    atomic.Pointer[snapshot]
	seq     uint64 // last change applied
	skipped uint64 // changes that arrived out of order (Seq not last+1)
	live    int
}

const (
	numSlots   = 16 // 0: exact numbers; 1-15: prefixes of that many digits
	metaBits   = 14
	metaMask   = 1<<metaBits - 1
	bitTomb    = 1 << 0
	bitExp     = 1 << 1
	catShift   = 2 // 3 bits
	srcShift   = 5 // 2 bits
	confShift  = 7 // 7 bits
	bucketSize = 32
	minCompact = 4096
)

type snapshot struct {
	base, delta [numSlots]*table
	// prefixes has bit L set when slot L (prefixes of L digits) holds
	// anything, so a lookup skips empty lengths.
	prefixes uint16
}

// table is a run of packed entries in ascending order of their hashed key,
// with the directory that finds a key's bucket and the expiries.
type table struct {
	vals []uint64 // packed, ascending, one per key
	// dir[b] is the first position of bucket b: the values whose top
	// 64-shift bits are b. Hashing spreads any set of numbers evenly, so a
	// bucket holds about as many values as planned whatever the countries.
	dir    []uint32
	shift  uint
	expKey []uint64 // hashed keys that carry an expiry, ascending
	expAt  []int64  // their expiry, Unix milliseconds
}

func pack(e Entry, hkey uint64) uint64 {
	v := hkey<<metaBits | uint64(e.Category&7)<<catShift | uint64(e.Source&3)<<srcShift
	v |= uint64(min(max(e.Confidence, 0), 100)) << confShift
	if !e.ExpireTime.IsZero() {
		v |= bitExp
	}
	return v
}

// mix50 is a bijection on 50-bit integers that scatters neighbouring
// numbers (xor-shifts and multiplications by odd constants modulo 2^50 are
// each invertible), so equal keys still mean equal numbers.
func mix50(x uint64) uint64 {
	const m = 1<<50 - 1
	x ^= x >> 23
	x = x * 0x2127599bf4325c37 & m
	x ^= x >> 29
	x = x * 0x880355f21e6d1965 & m
	x ^= x >> 23
	return x
}

// find returns the packed value stored for the hashed key hkey.
func (t *table) find(hkey uint64) (uint64, bool) {
	if t == nil {
		return 0, false
	}
	target := hkey << metaBits
	b := target >> t.shift
	for i, end := t.dir[b], t.dir[b+1]; i < end; i++ {
		v := t.vals[i]
		if v|metaMask >= target {
			return v, v&^metaMask == target
		}
	}
	return 0, false
}

// expiry returns the expiry of hkey, in Unix milliseconds.
func (t *table) expiry(hkey uint64) int64 {
	i, ok := slices.BinarySearch(t.expKey, hkey)
	if !ok {
		return 0
	}
	return t.expAt[i]
}

func (t *table) len() int {
	if t == nil {
		return 0
	}
	return len(t.vals)
}

// newTable takes ownership of vals (ascending, unique keys) and expiries and
// builds the directory.
func newTable(vals []uint64, expKey []uint64, expAt []int64) *table {
	if len(vals) == 0 {
		return nil
	}
	// Big tables get a bucket per bucketSize values; small ones (the
	// prefix lengths, the delta) one per two, which costs at most 128 KiB
	// and makes the lookups that miss them nearly free.
	per := bucketSize
	if len(vals) <= 1<<16 {
		per = 2
	}
	nbits := uint(0)
	for len(vals)>>nbits > per && nbits < 32 {
		nbits++
	}
	t := &table{vals: vals, expKey: expKey, expAt: expAt, shift: 64 - nbits}
	t.dir = make([]uint32, 1<<nbits+1)
	b := uint64(0)
	for i, v := range vals {
		for ; b <= v>>t.shift; b++ {
			t.dir[b] = uint32(i)
		}
	}
	for ; b < uint64(len(t.dir)); b++ {
		t.dir[b] = uint32(len(vals))
	}
	return t
}

// merge returns old overlaid with upd (upd wins on equal keys). Tombstones
// of upd are kept when keepTomb (the result is a delta that must still
// shadow a base) and dropped otherwise.
func merge(old, upd *table, keepTomb bool) *table {
	var a, b table
	if old != nil {
		a = *old
	}
	if upd != nil {
		b = *upd
	}
	vals := make([]uint64, 0, len(a.vals)+len(b.vals))
	var expKey []uint64
	var expAt []int64
	ia, ib := 0, 0 // positions in the expiry arrays
	emit := func(v uint64, src *table, ie *int) {
		if v&bitTomb != 0 && !keepTomb {
			return
		}
		vals = append(vals, v)
		if v&bitExp != 0 {
			k := v >> metaBits
			for *ie < len(src.expKey) && src.expKey[*ie] < k {
				*ie++
			}
			expKey = append(expKey, k)
			expAt = append(expAt, src.expAt[*ie])
		}
	}
	i, j := 0, 0
	for i < len(a.vals) || j < len(b.vals) {
		switch {
		case j == len(b.vals) || (i < len(a.vals) && a.vals[i]>>metaBits < b.vals[j]>>metaBits):
			emit(a.vals[i], &a, &ia)
			i++
		case i == len(a.vals) || b.vals[j]>>metaBits < a.vals[i]>>metaBits:
			emit(b.vals[j], &b, &ib)
			j++
		default: // same key: the update wins
			emit(b.vals[j], &b, &ib)
			i++
			j++
		}
	}
	return newTable(slices.Clip(vals), slices.Clip(expKey), slices.Clip(expAt))
}

// NewIndex returns an empty index that has applied no change.
func NewIndex() *Index {
	x := &Index{}
	x.snap.Store(&snapshot{})
	return x
}

// IndexBuilder collects entries from a full scan of the store.
type IndexBuilder struct {
	vals [numSlots][]uint64
	exps [numSlots][]expPair
	err  error
}

type expPair struct {
	key uint64
	at  int64
}

// NewIndexBuilder returns a builder; sizeHint is the expected number of
// exact entries (0 when unknown).
func NewIndexBuilder(sizeHint int) *IndexBuilder {
	b := &IndexBuilder{}
	b.vals[0] = make([]uint64, 0, sizeHint)
	return b
}

// Add adds e. An entry whose pattern is not canonical is an error (reported
// by Build), since it can only come from a corrupt store.
func (b *IndexBuilder) Add(e Entry) {
	slot, key, ok := patternKey(e.Pattern)
	if !ok {
		if b.err == nil {
			b.err = fmt.Errorf("blocklist index: entry %s has a malformed pattern", e.ID)
		}
		return
	}
	hk := mix50(key)
	b.vals[slot] = append(b.vals[slot], pack(e, hk))
	if !e.ExpireTime.IsZero() {
		b.exps[slot] = append(b.exps[slot], expPair{hk, e.ExpireTime.UnixMilli()})
	}
}

// Build returns the index of everything added; seq is the store's last
// change that the scan includes. The builder must not be used afterwards.
func (b *IndexBuilder) Build(seq uint64) (*Index, error) {
	if b.err != nil {
		return nil, b.err
	}
	s := &snapshot{}
	live := 0
	for slot := range numSlots {
		vals := b.vals[slot]
		b.vals[slot] = nil
		if len(vals) == 0 {
			continue
		}
		slices.Sort(vals)
		// A store holds one entry per pattern; should a corrupt one not, keep
		// one of the duplicates rather than break the search.
		w := 0
		for i, v := range vals {
			if i+1 < len(vals) && vals[i+1]>>metaBits == v>>metaBits {
				continue
			}
			vals[w] = v
			w++
		}
		vals = vals[:w]
		if cap(vals) > len(vals)+len(vals)/16 {
			vals = slices.Clone(vals) // give back the builder's slack
		}
		exps := b.exps[slot]
		b.exps[slot] = nil
		slices.SortFunc(exps, func(x, y expPair) int { return cmpU64(x.key, y.key) })
		var expKey []uint64
		var expAt []int64
		if len(exps) > 0 {
			expKey = make([]uint64, 0, len(exps))
			expAt = make([]int64, 0, len(exps))
			for i, p := range exps {
				if i > 0 && exps[i-1].key == p.key {
					expAt[len(expAt)-1] = p.at
					continue
				}
				expKey = append(expKey, p.key)
				expAt = append(expAt, p.at)
			}
		}
		s.base[slot] = newTable(vals, expKey, expAt)
		if slot > 0 {
			s.prefixes |= 1 << slot
		}
		live += len(vals)
	}
	x := &Index{seq: seq, live: live}
	x.snap.Store(s)
	return x, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Seq returns the sequence number of the last change applied.
func (x *Index) Seq() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.seq
}

// Len returns the number of entries in the index, expired ones included.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.live
}

// OutOfOrder returns how many changes arrived with a sequence number other
// than the next one. Anything but 0 means a follower missed changes and
// should be rebuilt from a full scan.
func (x *Index) OutOfOrder() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.skipped
}

// Apply applies changes in order. A change at or below the last applied
// sequence number is ignored, so a full scan and a change stream may overlap.
func (x *Index) Apply(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.snap.Load()
	type upd struct {
		v  uint64
		at int64
	}
	var batch [numSlots]map[uint64]upd
	for _, c := range changes {
		if c.Seq <= x.seq {
			continue
		}
		if c.Seq != x.seq+1 {
			x.skipped++
		}
		x.seq = c.Seq
		slot, key, ok := patternKey(c.Entry.Pattern)
		if !ok {
			continue
		}
		hk := mix50(key)
		u := upd{v: hk<<metaBits | bitTomb}
		if c.Op == ChangePut {
			u = upd{v: pack(c.Entry, hk)}
			if !c.Entry.ExpireTime.IsZero() {
				u.at = c.Entry.ExpireTime.UnixMilli()
			}
		}
		if batch[slot] == nil {
			batch[slot] = map[uint64]upd{}
		}
		batch[slot][hk] = u
	}
	s := *old
	for slot, m := range batch {
		if len(m) == 0 {
			continue
		}
		keys := make([]uint64, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		vals := make([]uint64, 0, len(keys))
		var expKey []uint64
		var expAt []int64
		for _, k := range keys {
			u := m[k]
			_, t := old.find(slot, k)
			existed := t != nil
			if u.v&bitTomb == 0 {
				if !existed {
					x.live++
				}
			} else if existed {
				x.live--
			}
			vals = append(vals, u.v)
			if u.v&bitExp != 0 {
				expKey = append(expKey, k)
				expAt = append(expAt, u.at)
			}
		}
		delta := merge(s.delta[slot], newTable(vals, expKey, expAt), true)
		if delta.len() > max(minCompact, s.base[slot].len()/32) {
			s.base[slot] = merge(s.base[slot], delta, false)
			delta = nil
		}
		s.delta[slot] = delta
		if slot > 0 {
			s.prefixes |= 1 << slot
		}
	}
	x.snap.Store(&s)
}

// find returns the packed value of key in slot and the table holding its
// expiry; a tombstone in the delta hides the base.
func (s *snapshot) find(slot int, key uint64) (uint64, *table) {
	if d := s.delta[slot]; d != nil {
		if v, ok := d.find(key); ok {
			if v&bitTomb != 0 {
				return 0, nil
			}
			return v, d
		}
	}
	if b := s.base[slot]; b != nil {
		if v, ok := b.find(key); ok {
			return v, b
		}
	}
	return 0, nil
}

// Lookup returns the longest active entry matching n. now is only called
// when a matching entry has an expiry. The entry carries what the index
// holds: Pattern, Kind, Category, Source, Confidence and ExpireTime (no ID,
// reason, author or times; read the store for those).
func (x *Index) Lookup(n phone.Number, now func() time.Time) (Entry, bool) {
	str := string(n)
	if len(str) < 2 || str[0] != '+' {
		return Entry{}, false
	}
	digits := str[1:]
	if len(digits) == 0 || len(digits) > 15 || digits[0] == '0' {
		return Entry{}, false
	}
	// pre[l] is the integer of the first l digits: every prefix key at
	// once, with no division.
	var pre [16]uint64
	key := uint64(0)
	for i := 0; i < len(digits); i++ {
		c := digits[i] - '0'
		if c > 9 {
			return Entry{}, false
		}
		key = key*10 + uint64(c)
		pre[i+1] = key
	}
	s := x.snap.Load()
	var nowMs int64 = -1
	active := func(v uint64, t *table, k uint64) (int64, bool) {
		if v&bitExp == 0 {
			return 0, true
		}
		if nowMs < 0 {
			nowMs = now().UnixMilli()
		}
		at := t.expiry(k)
		return at, nowMs < at
	}
	hk := mix50(key)
	if v, t := s.find(0, hk); t != nil {
		if at, ok := active(v, t, hk); ok {
			return unpack(v, str, KindExact, at), true
		}
	}
	for l := len(digits); l >= 1; l-- {
		if s.prefixes&(1<<l) == 0 {
			continue
		}
		hp := mix50(pre[l])
		if v, t := s.find(l, hp); t != nil {
			if at, ok := active(v, t, hp); ok {
				return unpack(v, str[:1+l]+"*", KindPrefix, at), true
			}
		}
	}
	return Entry{}, false
}

func unpack(v uint64, pattern string, k Kind, expAt int64) Entry {
	e := Entry{
		Pattern:    pattern,
		Kind:       k,
		Category:   Category(v >> catShift & 7),
		Source:     Source(v >> srcShift & 3),
		Confidence: int(v >> confShift & 127),
	}
	if v&bitExp != 0 {
		e.ExpireTime = time.UnixMilli(expAt).UTC()
	}
	return e
}

// replace makes x hold what y holds. y must not be used afterwards.
func (x *Index) replace(y *Index) {
	x.mu.Lock()
	defer x.mu.Unlock()
	y.mu.Lock()
	defer y.mu.Unlock()
	x.seq, x.live, x.skipped = y.seq, y.live, 0
	x.snap.Store(y.snap.Load())
}
