package blocklist

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"slices"
)

// This file holds the compact sorted table the Index is made of.
//
// A key is a pattern's digits as an integer (15 digits < 2^50) scrambled by
// mix50, a bijection on 50-bit integers, so any set of numbers spreads
// evenly over the key space. A table of n keys is split into 2^B buckets by
// the top B bits of the key (B chosen for the fewest bytes with buckets of
// at most 12 keys on average, 2 for small tables).
// Within a bucket those B bits are implied by the bucket, so a slot stores
// only the other 50-B bits (the remainder) and, below them, the index of
// the entry's metadata in a small per-table dictionary: category, source,
// confidence and flags, and, when that is cheaper, the expiry itself. A
// slot is the fewest whole bytes that hold both; for 10M entries that is 30
// remainder bits and a 1-2 bit dictionary index, 4 bytes.
//
// The directory says where each bucket starts: a uint16 per bucket, the
// offset from the start of its group of 2^g buckets, plus a uint32 per
// group, about 0.2 B per entry. That is the layout of small tables (the
// delta, the prefix lengths), which stay in the CPU's caches whole.
//
// A big table (more than blockedMin entries, no patterns) is blocked
// instead: its slots are cut into blocks of one cache line, a header byte
// (the block's entry count, and a flag when some did not fit) and as many
// slots as fit. A key's block is its position in the key space scaled to
// the number of blocks (a multiplication and a shift, monotone, so blocks
// still hold ascending keys), so a lookup reads that one cache line and
// nothing else: one DRAM access. The directory of the bucketed layout was
// a second, dependent one: at 10M entries its 2 MiB do not stay in the
// caches of a busy machine, and a lookup waited for it before it could
// ask for the bucket. Blocks are filled to blockLoad on average; the
// entries a block has no room for (a few percent) go, in key order, into a
// small bucketed overflow table, which a lookup reads only when the key is
// not in a flagged block. A slot keeps the low bits of the key that tell
// it apart within its block's stretch of the key space (2^50 / blocks
// wide). That costs 6.6 B per entry at 10M entries (BenchmarkIndexLookup)
// where the bucketed layout took 4.2: the blocks are 30% empty.
//
// The slots of a big table live outside the Go heap, in memory the kernel
// is asked to back with transparent huge pages (index_mem_linux.go): a
// lookup's cache line is then found through a TLB entry that covers 2 MiB
// instead of 4 KiB, which spares most lookups a page-table walk (two
// dimensional, under a hypervisor). The memory is unmapped when the table
// becomes unreachable (runtime.AddCleanup), so whatever reads t.slots
// keeps t alive until it is done (runtime.KeepAlive): a slice of the
// slots alone does not.

const (
	keyBits = 50
	// A table of more than smallTable entries gets buckets of 6 to
	// bigBucket entries on average; a smaller one (the prefix lengths, the
	// delta) buckets of 1 to smallBucket, which makes the lookups that only
	// touch it nearly free.
	bigBucket   = 12
	smallBucket = 2
	smallTable  = 1 << 16
	// maxDict caps the dictionary of (metadata, expiry) pairs; past it the
	// expiries go to a sparse array keyed by position.
	maxDict = 1 << 12
	// A table of more than blockedMin entries that keeps no patterns is
	// blocked: blocks of blockBytes, filled to blockLoad percent on
	// average. The header byte holds the count (up to 63, the slots of
	// 1-byte keys) and blockSpilled.
	blockedMin   = smallTable
	blockBytes   = 64
	blockLoad    = 70
	blockCount   = 63
	blockSpilled = 0x80
	// offHeapMin is the size from which slots go outside the Go heap, in
	// huge pages: a few huge pages at least, so that rounding up to whole
	// ones wastes little.
	offHeapMin = 4 << 20
)

// rec is one entry as a cursor reads it.
type rec struct {
	v   uint64 // hashed key << metaBits | metadata
	at  int64  // expiry in Unix milliseconds, when v has bitExp
	pat string // the pattern, kept by prefix tables only
}

func (r rec) key() uint64 { return r.v >> metaBits }

// run is entries unpacked, in strictly ascending key order: what encode
// takes.
type run struct {
	vals []uint64 // hashed key << metaBits | metadata
	ats  []int64  // the expiry of each value with bitExp, in order
	pats []string // prefix tables: the pattern of each value
}

func (r *run) add(x rec, keepPats bool) {
	r.vals = append(r.vals, x.v)
	if x.v&bitExp != 0 {
		r.ats = append(r.ats, x.at)
	}
	if keepPats {
		r.pats = append(r.pats, x.pat)
	}
}

// table is an immutable run of entries in ascending order of hashed key.
type table struct {
	n     int
	rbits uint   // remainder bits: keyBits - bucket bits
	kbits uint   // dictionary index bits, below the remainder
	w     int    // bytes per slot
	wmask uint64 // the low 8*w bits
	slots []byte // n little-endian slots of w bytes, then 7 bytes of padding
	// The start of bucket b is hi[b>>gshift] + lo[b]; lo has a final
	// entry for the end of the last bucket.
	gshift uint
	hi     []uint32
	lo     []uint16
	metas  []uint16 // dictionary index -> metadata bits
	// Expiries. In dictionary mode ats[i] is the expiry of dictionary
	// entry i; otherwise the positions whose metadata has bitExp are listed
	// in expPos, ascending, with their expiry in expAt.
	ats    []int64
	expPos []uint32
	expAt  []int64
	pats   []string // prefix tables: the pattern at each position
	// Blocked layout: nblk blocks of blockBytes (then 7 bytes of padding)
	// in slots, bcap slots each; positions are block*bcap+slot. over
	// holds the entries that did not fit (bucketed), or is nil.
	nblk   uint64
	bcap   int
	over   *table
	mapped int // bytes of slots mapped outside the Go heap, 0 if none
}

// layout is how encodeAs lays a table out.
type layout struct {
	blocked    bool
	offHeapMin int // slots of at least this many bytes go outside the Go heap
}

func defaultLayout(n int, keepPats bool) layout {
	return layout{blocked: !keepPats && n > blockedMin, offHeapMin: offHeapMin}
}

// allocSlots gives t size zeroed bytes of slots: outside the Go heap, in
// huge pages, when there are at least offHeapMin and the platform allows
// it, else on the heap. Memory outside the heap is unmapped once t is
// unreachable.
func (t *table) allocSlots(size, offHeapMin int) {
	if size >= offHeapMin {
		if mem, mapping, err := mapHuge(size); err == nil {
			t.slots = mem[:size:size]
			t.mapped = len(mapping)
			runtime.AddCleanup(t, unmapHuge, mapping)
			return
		}
	}
	t.slots = make([]byte, size)
}

// offHeap returns the bytes of t's slots (and its overflow table's) that
// are outside the Go heap.
func (t *table) offHeap() int {
	if t == nil {
		return 0
	}
	return t.mapped + t.over.offHeap()
}

func (t *table) len() int {
	if t == nil {
		return 0
	}
	return t.n
}

func (t *table) start(b uint64) int { return int(t.hi[b>>t.gshift]) + int(t.lo[b]) }

// slot returns the slot at byte offset o.
func (t *table) slot(o int) uint64 {
	x := binary.LittleEndian.Uint64(t.slots[o:]) & t.wmask
	runtime.KeepAlive(t)
	return x
}

// blockRemBits returns the remainder bits of a table of nb blocks: more
// than the keys a block spans, ceil(2^keyBits/nb), need, so that some
// remainder is no key's.
func blockRemBits(nb uint64) uint { return uint(bits.Len64((1<<keyBits + nb - 1) / nb)) }

// blockOf returns the block of the hashed key hkey: hkey*nblk/2^keyBits.
func (t *table) blockOf(hkey uint64) uint64 {
	b, _ := bits.Mul64(hkey<<(64-keyBits), t.nblk)
	return b
}

// blockBase returns the least key of block b, ceil(b*2^keyBits/nblk).
func (t *table) blockBase(b uint64) uint64 {
	q, r := bits.Div64(b>>(64-keyBits), b<<keyBits, t.nblk)
	if r != 0 {
		q++
	}
	return q
}

// find returns the table that holds the hashed key hkey (t, or its
// overflow table), the position and the dictionary index there; h is nil
// when no table does. It compares every slot of the bucket or block
// without branching on their values, so that a miss, the usual case,
// costs no mispredicted branch while the slots are still on their way
// from memory.
func (t *table) find(hkey uint64) (h *table, pos int, mi uint64) {
	if t == nil {
		return nil, 0, 0
	}
	if t.nblk != 0 {
		return t.findBlocked(hkey)
	}
	rbits, kbits, w, wmask := t.rbits&63, t.kbits&63, t.w, t.wmask
	b := hkey >> rbits
	want := hkey & (1<<rbits - 1)
	i, end := t.start(b), t.start(b+1)
	if i >= end {
		return nil, 0, 0
	}
	slots := t.slots[i*w : end*w+7]
	pos = -1
	for o := 0; o < len(slots)-7; o += w {
		x := binary.LittleEndian.Uint64(slots[o:]) & wmask
		if x>>kbits == want {
			pos, mi = o, x
		}
	}
	runtime.KeepAlive(t)
	if pos < 0 {
		return nil, 0, 0
	}
	return t, i + pos/w, mi & (1<<kbits - 1)
}

// findBlocked is find in the blocked layout.
func (t *table) findBlocked(hkey uint64) (h *table, pos int, mi uint64) {
	kbits := t.kbits & 63
	b := t.blockOf(hkey)
	blk := (*[blockBytes + 7]byte)(t.slots[b*blockBytes:])
	at := scanBlock(blk, (hkey&(1<<(t.rbits&63)-1))<<kbits, t.wmask&^(1<<kbits-1), uint(t.w), t.bcap)
	x, hdr := binary.LittleEndian.Uint64(blk[at&63:]), blk[0]
	runtime.KeepAlive(t)
	if at != 0 {
		return t, int(b)*t.bcap + int((at-1)/uint(t.w)), x & (1<<kbits - 1)
	}
	if hdr&blockSpilled != 0 {
		return t.over.find(hkey)
	}
	return nil, 0, 0
}

// scanBlock returns the byte offset in blk of the slot of n slots of w
// bytes (from offset 1) whose bits under mask are want, or 0. The slots
// of a block past its last entry hold a remainder no key of the block
// has, so the loop runs the same count every time and at most one slot
// matches. It does not branch on the slots, and keeps few values live: a
// spill to the stack is a store, and stores wait in the store buffer
// behind the load that misses. (Inlined into findBlocked, the loop
// reloads spilled values on every turn: go1.26's register allocator.)
//
//go:noinline
func scanBlock(blk *[blockBytes + 7]byte, want, mask uint64, w uint, n int) uint {
	at, p := uint(0), uint(1)
	for range n {
		// d-1 has its top bit set only when d is 0: a match.
		d := binary.LittleEndian.Uint64(blk[p&63:])&mask ^ want
		at |= p & -uint((d-1)>>63)
		p += w
	}
	return at
}

// expiry returns the expiry, Unix milliseconds, of the entry at pos with
// dictionary index mi (whose metadata has bitExp).
func (t *table) expiry(pos int, mi uint64) int64 {
	if t.ats != nil {
		return t.ats[mi]
	}
	i, ok := slices.BinarySearch(t.expPos, uint32(pos))
	if !ok {
		return 0
	}
	return t.expAt[i]
}

// cursor reads a table's entries in order.
type cursor struct {
	t    *table
	i    int    // next position (blocked: next slot of block b)
	b    uint64 // bucket (blocked: block) of position i
	bend int    // end of bucket b
	e    int    // next position in t.expPos
	// Blocked layout: the least key of block b, and the overflow table's
	// cursor with its next entry.
	base uint64
	oc   *cursor
	ov   rec
	ovOK bool
}

func (t *table) cursor() cursor {
	c := cursor{t: t}
	switch {
	case t == nil:
	case t.nblk != 0:
		oc := t.over.cursor()
		c.oc = &oc
		c.ov, c.ovOK = oc.next()
	default:
		c.bend = t.start(1)
	}
	return c
}

func (c *cursor) next() (rec, bool) {
	t := c.t
	if t == nil {
		return rec{}, false
	}
	if t.nblk != 0 {
		return c.nextBlocked()
	}
	if c.i >= t.n {
		return rec{}, false
	}
	for c.i >= c.bend {
		c.b++
		c.bend = t.start(c.b + 1)
	}
	x := t.slot(c.i * t.w)
	r := c.rec(c.i, c.b<<t.rbits|x>>t.kbits, x&(1<<t.kbits-1))
	c.i++
	return r, true
}

// nextBlocked is next in the blocked layout: each block's entries, then
// those of its entries that went to the overflow table.
func (c *cursor) nextBlocked() (rec, bool) {
	t := c.t
	for c.b < t.nblk {
		o := int(c.b) * blockBytes
		hdr := t.slots[o]
		if c.i < int(hdr&blockCount) {
			if c.i == 0 {
				c.base = t.blockBase(c.b)
			}
			x := t.slot(o + 1 + c.i*t.w)
			key := c.base + (x>>t.kbits-c.base)&(1<<t.rbits-1)
			r := c.rec(int(c.b)*t.bcap+c.i, key, x&(1<<t.kbits-1))
			c.i++
			return r, true
		}
		if hdr&blockSpilled != 0 && c.ovOK && t.blockOf(c.ov.key()) == c.b {
			r := c.ov
			c.ov, c.ovOK = c.oc.next()
			return r, true
		}
		c.b++
		c.i = 0
	}
	runtime.KeepAlive(t)
	return rec{}, false
}

// rec returns the entry at position pos with hashed key key and
// dictionary index mi; positions come in ascending order.
func (c *cursor) rec(pos int, key, mi uint64) rec {
	t := c.t
	m := t.metas[mi]
	r := rec{v: key<<metaBits | uint64(m)}
	if m&bitExp != 0 {
		if t.ats != nil {
			r.at = t.ats[mi]
		} else {
			for t.expPos[c.e] < uint32(pos) {
				c.e++
			}
			r.at = t.expAt[c.e]
		}
	}
	if t.pats != nil {
		r.pat = t.pats[pos]
	}
	return r
}

func bucketBits(n int) uint {
	per := bigBucket
	if n <= smallTable {
		per = smallBucket
	}
	b := uint(0)
	for n>>b > per && b < 30 {
		b++
	}
	return b
}

// bitsFor returns the bits an index below d takes.
func bitsFor(d int) uint { return uint(bits.Len(uint(d - 1))) }

func bytesFor(nbits uint) int { return max(1, int(nbits+7)/8) }

type metaAt struct {
	m  uint16
	at int64
}

// encode builds the table of r; prefix tables keep patterns. It takes
// ownership of r's patterns.
func encode(r run, keepPats bool) *table {
	return encodeAs(r, keepPats, defaultLayout(len(r.vals), keepPats))
}

// encodeAs is encode with the layout chosen by the caller. A blocked
// table keeps no patterns.
func encodeAs(r run, keepPats bool, lay layout) *table {
	n := len(r.vals)
	if n == 0 {
		return nil
	}
	if keepPats && lay.blocked {
		panic("blocklist: a blocked table keeps no patterns")
	}
	// Pass 1: the two possible dictionaries: metadata alone, and metadata
	// with expiry.
	idxM := make([]int32, 1<<metaBits) // metadata -> dictionary index + 1
	var dictM []uint16
	idxA := make([]int32, 1<<metaBits) // metadata without expiry -> index + 1
	idxAExp := map[metaAt]int32{}      // metadata with expiry -> index + 1
	var dictA []metaAt
	nExp := 0
	for _, v := range r.vals {
		m := uint16(v & metaMask)
		if idxM[m] == 0 {
			dictM = append(dictM, m)
			idxM[m] = int32(len(dictM))
		}
		if m&bitExp == 0 {
			if idxA[m] == 0 && len(dictA) <= maxDict {
				dictA = append(dictA, metaAt{m: m})
				idxA[m] = int32(len(dictA))
			}
			continue
		}
		if len(dictA) <= maxDict {
			ma := metaAt{m, r.ats[nExp]}
			if idxAExp[ma] == 0 {
				dictA = append(dictA, ma)
				idxAExp[ma] = int32(len(dictA))
			}
		}
		nExp++
	}
	// The layout, whichever takes the fewest bytes; dictionary mode
	// (expiries in the dictionary) when it fits and costs no more than a
	// sparse expiry array. Bucketed: bucket bits from bucketBits up to 3
	// more (smaller buckets, a bigger directory), the smallest buckets on
	// a tie. Blocked: the slot width, and enough blocks for blockLoad and
	// for the remainder to fit the slot.
	kA, kM := bitsFor(len(dictA)), bitsFor(len(dictM))
	okA := len(dictA) <= maxDict
	costA, costM := 10*len(dictA), 12*nExp
	t := &table{n: n}
	var dictMode bool
	best := -1
	if !lay.blocked {
		for b := bucketBits(n); b <= min(bucketBits(n)+3, 30); b++ {
			r := keyBits - b
			a, m := bytesFor(r+kA), bytesFor(r+kM)
			cost, dm, w, k := n*m+costM, false, m, kM
			if okA && r+kA <= 64 && n*a+costA <= cost {
				cost, dm, w, k = n*a+costA, true, a, kA
			}
			cost += 2 << b // lo
			if best < 0 || cost <= best {
				best, dictMode, t.rbits, t.w, t.kbits = cost, dm, r, w, k
			}
		}
	} else {
		for w := 1; w <= 8; w++ {
			for _, dm := range []bool{true, false} {
				k, cost := kM, costM
				if dm {
					k, cost = kA, costA
				}
				if dm && !okA || int(k) >= 8*w {
					continue
				}
				bcap := min((blockBytes-1)/w, blockCount)
				nb := (100*n + blockLoad*bcap - 1) / (blockLoad * bcap)
				// The ceil(2^keyBits/nb) keys a block spans must be
				// fewer than 2^m, m the remainder bits left.
				if m := 8*w - int(k); m <= keyBits {
					if m < keyBits-32 {
						continue
					}
					nb = max(nb, (1<<keyBits+1<<m-2)/(1<<m-1))
				}
				cost += nb * blockBytes
				if best < 0 || cost < best {
					best, dictMode, t.w, t.kbits, t.bcap, t.nblk = cost, dm, w, k, bcap, uint64(nb)
				}
			}
		}
		t.rbits = blockRemBits(t.nblk)
	}
	if dictMode {
		t.metas = make([]uint16, len(dictA))
		t.ats = make([]int64, len(dictA))
		for i, d := range dictA {
			t.metas[i], t.ats[i] = d.m, d.at
		}
	} else {
		t.metas = dictM
		t.expPos = make([]uint32, 0, nExp)
		t.expAt = make([]int64, 0, nExp)
	}
	t.wmask = ^uint64(0)
	if t.w < 8 {
		t.wmask = 1<<(8*t.w) - 1
	}
	// slotOf returns the dictionary index of the value v with expiry at
	// (if v has bitExp), and records the expiry of position pos in the
	// sparse array; positions come in ascending order.
	slotOf := func(v uint64, at int64, pos int) uint64 {
		m := uint16(v & metaMask)
		var mi int32
		switch {
		case !dictMode:
			mi = idxM[m]
			if m&bitExp != 0 {
				t.expPos = append(t.expPos, uint32(pos))
				t.expAt = append(t.expAt, at)
			}
		case m&bitExp == 0:
			mi = idxA[m]
		default:
			mi = idxAExp[metaAt{m, at}]
		}
		return uint64(mi - 1)
	}
	if lay.blocked {
		t.encodeBlocks(r, slotOf, lay)
		return t
	}
	// Pass 2: the slots and where each bucket starts.
	t.allocSlots(n*t.w+7, lay.offHeapMin)
	nb := uint64(1) << (keyBits - t.rbits)
	starts := make([]uint32, nb+1)
	remMask := uint64(1)<<t.rbits - 1
	b, e := uint64(0), 0
	for i, v := range r.vals {
		h := v >> metaBits
		for ; b <= h>>t.rbits; b++ {
			starts[b] = uint32(i)
		}
		var at int64
		if v&bitExp != 0 {
			at = r.ats[e]
			e++
		}
		// Slots are written in ascending order, so the bytes this writes
		// past slot i (zeros) belong to slots not written yet.
		binary.LittleEndian.PutUint64(t.slots[i*t.w:], (h&remMask)<<t.kbits|slotOf(v, at, i))
	}
	for ; b <= nb; b++ {
		starts[b] = uint32(n)
	}
	if keepPats {
		t.pats = slices.Clip(r.pats)
	}
	t.setDir(starts, keyBits-t.rbits)
	return t
}

// encodeBlocks is pass 2 of encodeAs in the blocked layout: every block
// its entries, the rest to the overflow table. Blocks are written in
// ascending order, each slot w bytes.
func (t *table) encodeBlocks(r run, slotOf func(v uint64, at int64, pos int) uint64, lay layout) {
	t.allocSlots(int(t.nblk)*blockBytes+7, lay.offHeapMin)
	remMask := uint64(1)<<t.rbits - 1
	var over run
	e := 0 // next of r.ats
	put := func(o int, x uint64) {
		for j := range t.w {
			t.slots[o+j] = byte(x >> (8 * j))
		}
	}
	// finish fills the slots of block b past its cnt entries with the
	// remainder of the next block's least key, which no key of block b
	// has (a block spans fewer than 2^rbits keys), and writes its header.
	finish := func(b uint64, cnt int, spilled bool) {
		o := int(b) * blockBytes
		none := (t.blockBase(b+1) & remMask) << t.kbits
		for k := cnt; k < t.bcap; k++ {
			put(o+1+k*t.w, none)
		}
		hdr := byte(cnt)
		if spilled {
			hdr |= blockSpilled
		}
		t.slots[o] = hdr
	}
	b, cnt, spilled := uint64(0), 0, false
	for _, v := range r.vals {
		h := v >> metaBits
		for hb := t.blockOf(h); b < hb; b++ {
			finish(b, cnt, spilled)
			cnt, spilled = 0, false
		}
		x := rec{v: v}
		if v&bitExp != 0 {
			x.at = r.ats[e]
			e++
		}
		if cnt == t.bcap {
			over.add(x, false)
			spilled = true
			continue
		}
		put(int(b)*blockBytes+1+cnt*t.w, (h&remMask)<<t.kbits|slotOf(v, x.at, int(b)*t.bcap+cnt))
		cnt++
	}
	for ; b < t.nblk; b++ {
		finish(b, cnt, spilled)
		cnt, spilled = 0, false
	}
	t.over = encodeAs(over, false, layout{offHeapMin: lay.offHeapMin})
}

// setDir builds the two-level directory from the start of every bucket
// (and the end of the last): the largest groups whose offsets fit a uint16.
func (t *table) setDir(starts []uint32, bb uint) {
	nb := len(starts) - 1
	g := uint(0)
	for g < bb && (t.n>>bb+1)<<(g+1) <= 1<<14 {
		g++
	}
	for ; g > 0; g-- {
		fits := true
		for b := range starts {
			if starts[b]-starts[b>>g<<g] > 1<<16-1 {
				fits = false
				break
			}
		}
		if fits {
			break
		}
	}
	t.gshift = g
	t.hi = make([]uint32, nb>>g+1)
	for k := range t.hi {
		t.hi[k] = starts[k<<g]
	}
	t.lo = make([]uint16, nb+1)
	for b := range starts {
		t.lo[b] = uint16(starts[b] - starts[b>>g<<g])
	}
}

// decode returns t's entries.
func (t *table) decode(keepPats bool) run {
	var r run
	r.vals = make([]uint64, 0, t.len())
	c := t.cursor()
	for x, ok := c.next(); ok; x, ok = c.next() {
		r.add(x, keepPats)
	}
	return r
}

// merge returns old overlaid with upd (upd wins on equal keys). Tombstones
// of upd are kept when keepTomb (the result is a delta that must still
// shadow a base) and dropped otherwise.
func merge(old *table, upd run, keepTomb, keepPats bool) *table {
	var out run
	out.vals = make([]uint64, 0, old.len()+len(upd.vals))
	c := old.cursor()
	a, okA := c.next()
	e := 0 // next in upd.ats
	for j := 0; okA || j < len(upd.vals); {
		var x rec
		if j < len(upd.vals) {
			x.v = upd.vals[j]
		}
		switch {
		case j == len(upd.vals) || (okA && a.key() < x.key()):
			x = a
			a, okA = c.next()
		default:
			if okA && a.key() == x.key() { // the update wins
				a, okA = c.next()
			}
			if x.v&bitExp != 0 {
				x.at = upd.ats[e]
				e++
			}
			if keepPats {
				x.pat = upd.pats[j]
			}
			j++
		}
		if x.v&bitTomb != 0 && !keepTomb {
			continue
		}
		out.add(x, keepPats)
	}
	return encode(out, keepPats)
}

// sortKeys sorts packed values by key (the bits above metaBits), keeping
// the order of equal keys: a least-significant-digit radix sort, five
// passes of 10 bits, which at 10M values takes a fraction of a comparison
// sort's time.
func sortKeys(vals []uint64) {
	if len(vals) < 1<<12 {
		slices.SortStableFunc(vals, func(a, b uint64) int { return cmpU64(a>>metaBits, b>>metaBits) })
		return
	}
	const digit = 10
	const passes = keyBits / digit
	var counts [passes][1 << digit]int
	for _, v := range vals {
		k := v >> metaBits
		for p := range passes {
			counts[p][k>>(p*digit)&(1<<digit-1)]++
		}
	}
	buf := make([]uint64, len(vals))
	src, dst := vals, buf
	for p := range passes {
		c := &counts[p]
		if c[vals[0]>>metaBits>>(p*digit)&(1<<digit-1)] == len(vals) {
			continue // every value has the same digit here
		}
		sum := 0
		for d, k := range c {
			c[d] = sum
			sum += k
		}
		shift := uint(p*digit + metaBits)
		for _, v := range src {
			d := v >> shift & (1<<digit - 1)
			dst[c[d]] = v
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &vals[0] {
		copy(vals, src)
	}
}

// A prefilter answers "might this be the key of a prefix" with one bit, so
// a lookup of a number that no prefix covers (nearly all of them) skips the
// prefix tables. It takes the raw key (the digits as an integer), hashed by
// one multiplication, which is cheaper than the tables' hash.
type prefilter struct {
	bits  []uint64
	shift uint // 64 - log2(len(bits)*64)
	keys  int  // keys added
}

// newPrefilter returns a filter sized for keys keys, 16 bits each (about
// 6% false positives when full).
func newPrefilter(keys int) prefilter {
	lg := uint(9) // 512 bits at least
	for 1<<lg < 16*keys && lg < 28 {
		lg++
	}
	return prefilter{bits: make([]uint64, 1<<lg/64), shift: 64 - lg}
}

func (f *prefilter) add(key uint64) {
	i := key * 0x9e3779b97f4a7c15 >> f.shift
	f.bits[i/64] |= 1 << (i % 64)
	f.keys++
}

// bit is 1 when key may be in f, else 0.
func (f *prefilter) bit(key uint64) uint {
	i := key * 0x9e3779b97f4a7c15 >> (f.shift & 63)
	return uint(f.bits[i/64]>>(i%64)) & 1
}

// full reports whether f has as many keys as it was sized for.
func (f *prefilter) full() bool { return 16*f.keys > len(f.bits)*64 }
