package blocklist

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
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
	// ChangeOfficialPut registers the official number the Change carries
	// (Official), replacing any record of that number.
	ChangeOfficialPut
	// ChangeOfficialDelete removes the official number Official.Number.
	ChangeOfficialDelete
)

// Official reports whether o changes an official number, not an entry.
func (o ChangeOp) Official() bool { return o == ChangeOfficialPut || o == ChangeOfficialDelete }

func (o ChangeOp) String() string {
	switch o {
	case ChangePut:
		return "put"
	case ChangeDelete:
		return "delete"
	case ChangeOfficialPut:
		return "official_put"
	case ChangeOfficialDelete:
		return "official_delete"
	}
	return "unknown"
}

// Change is one ordered event in the life of the blocklist. The store gives
// every committed entry write, and every official number created or
// deleted, a sequence number one higher than the last (an update that moves
// an entry to a new pattern is a delete and a put), so a follower that has
// applied every change up to Seq holds the same blocklist and official
// numbers as the store did then. The store keeps them in its change log
// (Store.Changes); each Service's follower reads that log, whoever wrote,
// and is the only writer of the Service's Index.
type Change struct {
	Seq   uint64
	Op    ChangeOp
	Entry Entry // for ChangeDelete, the entry as it was; zero for an official number's change
	// Official is the official number's record for ChangeOfficialPut
	// (Gen included), and at least its Number for ChangeOfficialDelete;
	// nil for an entry's change.
	Official *OfficialNumber
}

// Index answers "which active entry matches this number" from memory, with
// no store round trip and no allocation.
//
// Layout. Exact numbers are one table; prefixes one table per digit count,
// so a lookup tries the exact table and then each prefix length that has
// entries, longest first, skipping those a one-bit filter rules out. A
// table (index_table.go) keeps each entry in a few bytes: its key, the
// pattern's digits as an integer scrambled by a bijective hash, less the
// bits that its bucket or block already implies, and an index into a small
// dictionary of category, source, confidence and expiry. A small table
// leads to its bucket through a directory; a big one (the exact numbers
// at 10M) is cut into blocks of one cache line that a key's hash finds
// without one, in huge pages outside the Go heap, so a lookup in 10M
// entries reads one cache line from DRAM and nothing else from memory.
//
// Updates. Tables are immutable once published: a reader loads one
// snapshot pointer and never takes a lock. Changes go into a small sorted
// table of recent changes (with tombstones) that shadows a delta, which
// shadows the base. The recent changes are merged into the delta once
// they pass maxRecent, and the delta into the base once it outgrows a
// fraction of the base. So a change costs a merge of at most maxRecent
// entries, and one change in maxRecent + 1 a merge of the delta too (up to
// 300,000 entries at 10M, 5-10 ms), where every change merged the delta
// before. A writer builds the new tables beside the old ones and swaps the
// pointer.
type Index struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]
	// officials are the registered official numbers (index_official.go),
	// replaced whole by a writer: there are few, and they change rarely.
	officials atomic.Pointer[officialSet]
	seq       uint64 // last change applied
	skipped   uint64 // changes that arrived out of order (Seq not last+1)
	live      int
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
	minCompact = 4096
	// maxRecent bounds the recent changes: a change costs a merge of
	// about maxRecent/2 entries, and every maxRecent changes one of the
	// delta's; near the square root of the largest delta (the base/32 of
	// 10M entries) keeps the sum small.
	maxRecent = 1024
)

type snapshot struct {
	// recent shadows delta, which shadows base (see Index).
	base, delta, recent [numSlots]*table
	// prefixes has bit L set when slot L (prefixes of L digits) holds
	// anything, so a lookup skips empty lengths.
	prefixes uint16
	// pf holds every key in the prefix tables (and, until the next
	// rebuild, keys since deleted).
	pf prefilter
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

// unmix50 is the inverse of mix50.
func unmix50(x uint64) uint64 {
	const m = 1<<50 - 1
	x ^= x>>23 ^ x>>46
	x = x * inv50(0x880355f21e6d1965) & m
	x ^= x >> 29
	x = x * inv50(0x2127599bf4325c37) & m
	x ^= x>>23 ^ x>>46
	return x
}

// inv50 returns the inverse of the odd number a modulo 2^50 (Newton's
// iteration doubles the correct low bits each step).
func inv50(a uint64) uint64 {
	x := a // correct to 3 bits
	for range 5 {
		x *= 2 - a*x
	}
	return x & (1<<50 - 1)
}

// NewIndex returns an empty index that has applied no change.
func NewIndex() *Index {
	x := &Index{}
	x.snap.Store(&snapshot{})
	return x
}

// IndexBuilder collects entries from a full scan of the store.
type IndexBuilder struct {
	exact []uint64  // packed values of exact numbers
	exps  []expPair // expiries of exact numbers
	pre   [numSlots][]rec
	err   error
}

type expPair struct {
	key uint64
	at  int64
}

// NewIndexBuilder returns a builder; sizeHint is the expected number of
// exact entries (0 when unknown).
func NewIndexBuilder(sizeHint int) *IndexBuilder {
	return &IndexBuilder{exact: make([]uint64, 0, sizeHint)}
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
	var at int64
	if !e.ExpireTime.IsZero() {
		at = e.ExpireTime.UnixMilli()
	}
	if slot > 0 {
		b.pre[slot] = append(b.pre[slot], rec{v: pack(e, hk), at: at, pat: strings.Clone(e.Pattern)})
		return
	}
	b.exact = append(b.exact, pack(e, hk))
	if !e.ExpireTime.IsZero() {
		b.exps = append(b.exps, expPair{hk, at})
	}
}

// Build returns the index of everything added; seq is the store's last
// change that the scan includes. The builder must not be used afterwards.
// Should a corrupt store hold a pattern twice, the entry added last wins.
func (b *IndexBuilder) Build(seq uint64) (*Index, error) {
	if b.err != nil {
		return nil, b.err
	}
	s := &snapshot{}
	live := 0
	if vals := b.exact; len(vals) > 0 {
		b.exact = nil
		sortKeys(vals)
		exps := b.exps
		b.exps = nil
		slices.SortStableFunc(exps, func(x, y expPair) int { return cmpU64(x.key, y.key) })
		// Drop duplicates (the one added last wins) and line the expiries
		// up with their values.
		var ats []int64
		w, e := 0, 0
		for i, v := range vals {
			if i+1 < len(vals) && vals[i+1]>>metaBits == v>>metaBits {
				continue
			}
			if v&bitExp != 0 {
				k := v >> metaBits
				for exps[e].key < k || e+1 < len(exps) && exps[e+1].key == k {
					e++
				}
				ats = append(ats, exps[e].at)
			}
			vals[w] = v
			w++
		}
		s.base[0] = encode(run{vals: vals[:w], ats: ats}, false)
		live += w
	}
	for slot := 1; slot < numSlots; slot++ {
		rs := b.pre[slot]
		b.pre[slot] = nil
		if len(rs) == 0 {
			continue
		}
		slices.SortStableFunc(rs, func(x, y rec) int { return cmpU64(x.key(), y.key()) })
		var r run
		for i, x := range rs {
			if i+1 < len(rs) && rs[i+1].key() == x.key() {
				continue
			}
			r.add(x, true)
		}
		s.base[slot] = encode(r, true)
		s.prefixes |= 1 << slot
		live += len(r.vals)
	}
	if s.prefixes != 0 {
		s.rebuildPrefilter()
	}
	x := &Index{seq: seq, live: live}
	x.snap.Store(s)
	return x, nil
}

// rebuildPrefilter sizes a new prefix filter for the prefix tables of s
// (room for four times the keys they hold). A lookup reads the filter
// whenever s.prefixes is not 0, so it is never left out, even empty.
func (s *snapshot) rebuildPrefilter() {
	keys := 0
	for slot := 1; slot < numSlots; slot++ {
		keys += s.base[slot].len() + s.delta[slot].len() + s.recent[slot].len()
	}
	s.pf = newPrefilter(4 * keys)
	for slot := 1; slot < numSlots; slot++ {
		for _, t := range []*table{s.base[slot], s.delta[slot], s.recent[slot]} {
			c := t.cursor()
			for r, ok := c.next(); ok; r, ok = c.next() {
				s.pf.add(unmix50(r.key()))
			}
		}
	}
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
	var batch [numSlots]map[uint64]rec
	var offs []Change
	for _, c := range changes {
		if c.Seq <= x.seq {
			continue
		}
		if c.Seq != x.seq+1 {
			x.skipped++
		}
		x.seq = c.Seq
		if c.Op.Official() {
			offs = append(offs, c)
			continue
		}
		slot, key, ok := patternKey(c.Entry.Pattern)
		if !ok {
			continue
		}
		hk := mix50(key)
		r := rec{v: hk<<metaBits | bitTomb}
		if c.Op == ChangePut {
			r.v = pack(c.Entry, hk)
			if !c.Entry.ExpireTime.IsZero() {
				r.at = c.Entry.ExpireTime.UnixMilli()
			}
		}
		if slot > 0 {
			r.pat = strings.Clone(c.Entry.Pattern)
		}
		if batch[slot] == nil {
			batch[slot] = map[uint64]rec{}
		}
		batch[slot][hk] = r
	}
	s := *old
	var newPrefixKeys []uint64
	for slot, m := range batch {
		if len(m) == 0 {
			continue
		}
		rs := make([]rec, 0, len(m))
		for _, r := range m {
			rs = append(rs, r)
		}
		slices.SortFunc(rs, func(a, b rec) int { return cmpU64(a.key(), b.key()) })
		var upd run
		for _, r := range rs {
			_, t, _, _ := old.find(slot, r.key())
			existed := t != nil
			if r.v&bitTomb == 0 {
				if !existed {
					x.live++
				}
			} else if existed {
				x.live--
			}
			if slot > 0 {
				newPrefixKeys = append(newPrefixKeys, unmix50(r.key()))
			}
			upd.add(r, slot > 0)
		}
		recent := merge(s.recent[slot], upd, true, slot > 0)
		if recent.len() > maxRecent {
			delta := merge(s.delta[slot], recent.decode(slot > 0), true, slot > 0)
			if delta.len() > max(minCompact, s.base[slot].len()/32) {
				s.base[slot] = merge(s.base[slot], delta.decode(slot > 0), false, slot > 0)
				delta = nil
			}
			s.delta[slot], recent = delta, nil
		}
		s.recent[slot] = recent
		if slot > 0 {
			s.prefixes |= 1 << slot
		}
	}
	if len(newPrefixKeys) > 0 {
		// The filter only grows; a copy takes the new keys until it is
		// full, then one sized afresh drops the deleted ones.
		pf := s.pf
		pf.bits = slices.Clone(pf.bits)
		for _, k := range newPrefixKeys {
			if pf.bits == nil || pf.full() {
				break
			}
			pf.add(k)
		}
		if pf.bits == nil || pf.full() {
			s.rebuildPrefilter()
		} else {
			s.pf = pf
		}
	}
	x.snap.Store(&s)
	x.applyOfficials(offs)
}

// find returns the metadata of key in slot, the table holding it, and its
// position and dictionary index there (for its expiry); a tombstone in the
// recent changes hides the delta and the base, one in the delta the base.
func (s *snapshot) find(slot int, key uint64) (meta uint64, t *table, pos int, mi uint64) {
	if t, pos, mi := s.recent[slot].find(key); t != nil {
		return shadow(t, pos, mi)
	}
	if t, pos, mi := s.delta[slot].find(key); t != nil {
		return shadow(t, pos, mi)
	}
	if t, pos, mi := s.base[slot].find(key); t != nil {
		return uint64(t.metas[mi]), t, pos, mi
	}
	return 0, nil, 0, 0
}

// shadow is what find answers for a key found in the recent changes or
// the delta: the entry, or nothing for a tombstone.
func shadow(t *table, pos int, mi uint64) (meta uint64, h *table, p int, i uint64) {
	m := uint64(t.metas[mi])
	if m&bitTomb != 0 {
		return 0, nil, 0, 0
	}
	return m, t, pos, mi
}

// deltaWithRecent is slot's delta with its recent changes merged in: what
// a snapshot file holds as the delta (it has no third table).
func (s *snapshot) deltaWithRecent(slot int) *table {
	if s.recent[slot] == nil {
		return s.delta[slot]
	}
	return merge(s.delta[slot], s.recent[slot].decode(slot > 0), true, slot > 0)
}

// offHeap returns the bytes of s's tables outside the Go heap.
func (s *snapshot) offHeap() int {
	n := 0
	for slot := range numSlots {
		n += s.base[slot].offHeap() + s.delta[slot].offHeap() + s.recent[slot].offHeap()
	}
	return n
}

// query is a number taken apart for a lookup: "+" and 1 to 15 digits.
// (It is kept in registers: stores in the lookup path fill the store
// buffer while the table read waits on memory, and stop the CPU from
// starting the next lookup meanwhile.)
type query struct {
	str string
	nd  int    // digits
	key uint64 // the digits as an integer
}

// parseQuery takes str apart if it is '+' and 1 to 15 ASCII digits; it
// does not look at the first digit. Numbers of 8 digits or more (all real
// ones) are read 8 digits at a time.
func parseQuery(str string) (q query, ok bool) {
	n := len(str) - 1
	if n < 1 || n > 15 || str[0] != '+' {
		return q, false
	}
	d := str[1:]
	key := uint64(0)
	if n >= 8 {
		// The last 8 digits, and the first n-8 from a word of the first
		// 8, shifted so that the digits beyond them fall off the top and
		// zeros (leading zero digits) come in at the bottom.
		hi, lo := load8(d)-ascii0, load8(d[n-8:])-ascii0
		if !digits8(hi) || !digits8(lo) {
			return q, false
		}
		key = value8(hi<<(8*(16-uint(n))&127))*1e8 + value8(lo)
	} else {
		for i := 0; i < n; i++ {
			c := d[i] - '0'
			if c > 9 {
				return q, false
			}
			key = key*10 + uint64(c)
		}
	}
	return query{str: str, nd: n, key: key}, true
}

const ascii0 = 0x3030303030303030 // '0' in every byte

// load8 returns the first 8 bytes of s, the first in the lowest byte (one
// load instruction).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// digits8 reports whether every byte of x, a word of bytes less '0', is a
// digit, 0 to 9: below 16, and still below 16 with 6 added. (Where a byte
// is 0xfa or more the addition carries into the next, but then the first
// test has failed already.)
func digits8(x uint64) bool {
	const hiNibbles = 0xf0f0f0f0f0f0f0f0
	return x&hiNibbles|(x+0x0606060606060606)&hiNibbles == 0
}

// value8 returns the integer of 8 digit values, the most significant in
// the lowest byte: pairs, then fours, then all eight, by multiply and add.
func value8(x uint64) uint64 {
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	return (x*10000 + x>>32) & 0xffffffff
}

// prefix returns the integer of the first l digits (l <= nd): the key
// divided by 10^(nd-l), by multiplication with a reciprocal since the
// divide instruction would cost more than the rest of a lookup together.
func (q *query) prefix(l int) uint64 {
	k := (q.nd - l) & 15
	hi, _ := bits.Mul64(q.key, div10[k].m)
	p := hi >> (div10[k].s & 63)
	if k == 0 {
		p = q.key
	}
	return p
}

// div10[k] divides any key (< 2^keyBits) by 10^k, k >= 1: the quotient is
// the high word of key*m shifted right by s. With s the least shift that
// makes 2^(64+s) >= 2^keyBits * 10^k, m = ceil(2^(64+s) / 10^k) is below
// 2^64, and key*m / 2^(64+s) exceeds key/10^k by less than 1/10^k, too
// little to reach the next integer.
var div10 = func() (t [16]struct{ m, s uint64 }) {
	d := uint64(1)
	for k := 1; k < 16; k++ {
		d *= 10
		s := uint64(0)
		for keyBits+uint64(bits.Len64(d-1)) > 64+s {
			s++
		}
		m, r := bits.Div64(1<<s, 0, d)
		if r != 0 {
			m++
		}
		t[k].m, t[k].s = m, s
	}
	return t
}()

// Lookup returns the longest active entry matching n. now is only called
// when a matching entry has an expiry. The entry carries what the index
// holds: Pattern, Kind, Category, Source, Confidence and ExpireTime (no ID,
// reason, author or times; read the store for those).
func (x *Index) Lookup(n phone.Number, now func() time.Time) (e Entry, ok bool) {
	q, ok := parseQuery(string(n))
	if !ok || q.str[1] == '0' {
		return e, false
	}
	m, ok := x.snap.Load().lookup(q, now)
	if ok {
		m.fill(&e)
	}
	return e, ok
}

// match is what a lookup found, small enough to be returned in registers.
// The Entry, 22 words, is filled in once, in the exported caller's result.
type match struct {
	meta uint64
	pat  string
	at   int64 // expiry, when meta has bitExp
	kind Kind
}

// fill sets the fields of e (a zero Entry) that the index holds.
func (m *match) fill(e *Entry) {
	e.Pattern = m.pat
	e.Kind = m.kind
	e.Category = Category(m.meta >> catShift & 7)
	e.Source = Source(m.meta >> srcShift & 3)
	e.Confidence = int(m.meta >> confShift & 127)
	if m.meta&bitExp != 0 {
		e.ExpireTime = time.UnixMilli(m.at).UTC()
	}
}

// lookup is Lookup for a parsed number whose first digit is not 0.
func (s *snapshot) lookup(q query, now func() time.Time) (match, bool) {
	var nowMs int64 = -1
	if m, t, pos, mi := s.find(0, mix50(q.key)); t != nil {
		at := int64(0)
		if m&bitExp != 0 {
			nowMs = now().UnixMilli()
			at = t.expiry(pos, mi)
		}
		if m&bitExp == 0 || nowMs < at {
			return match{meta: m, pat: q.str, at: at, kind: KindExact}, true
		}
	}
	for pm := s.prefixes & (1<<(q.nd+1) - 1); pm != 0; {
		l := bits.Len16(pm) - 1
		pm &^= 1 << l
		p := q.prefix(l)
		if s.pf.bit(p) == 0 {
			continue
		}
		m, t, pos, mi := s.find(l, mix50(p))
		if t == nil {
			continue
		}
		at := int64(0)
		if m&bitExp != 0 {
			if nowMs < 0 {
				nowMs = now().UnixMilli()
			}
			at = t.expiry(pos, mi)
			if nowMs >= at {
				continue
			}
		}
		return match{meta: m, pat: t.pats[pos], at: at, kind: KindPrefix}, true
	}
	return match{}, false
}

// replace makes x hold what y holds. y must not be used afterwards.
func (x *Index) replace(y *Index) {
	x.mu.Lock()
	defer x.mu.Unlock()
	y.mu.Lock()
	defer y.mu.Unlock()
	x.seq, x.live, x.skipped = y.seq, y.live, 0
	x.snap.Store(y.snap.Load())
	x.officials.Store(y.officials.Load())
}
