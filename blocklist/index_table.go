package blocklist

import (
	"encoding/binary"
	"math/bits"
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
// group, about 0.2 B per entry. It is small enough to stay in the CPU's
// caches, so a lookup pays for one DRAM access: the bucket's slots, 20-50
// bytes, one cache line or two adjacent ones.

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
}

func (t *table) len() int {
	if t == nil {
		return 0
	}
	return t.n
}

func (t *table) start(b uint64) int { return int(t.hi[b>>t.gshift]) + int(t.lo[b]) }

func (t *table) slot(i int) uint64 { return binary.LittleEndian.Uint64(t.slots[i*t.w:]) & t.wmask }

// find returns the position and dictionary index of the hashed key hkey.
// It compares every slot of the bucket without branching on their values,
// so that a miss, the usual case, costs no mispredicted branch while the
// bucket is still on its way from memory.
func (t *table) find(hkey uint64) (pos int, mi uint64, ok bool) {
	if t == nil {
		return 0, 0, false
	}
	rbits, kbits, w, wmask := t.rbits&63, t.kbits&63, t.w, t.wmask
	b := hkey >> rbits
	want := hkey & (1<<rbits - 1)
	i, end := t.start(b), t.start(b+1)
	if i >= end {
		return 0, 0, false
	}
	slots := t.slots[i*w : end*w+7]
	pos = -1
	for o := 0; o < len(slots)-7; o += w {
		x := binary.LittleEndian.Uint64(slots[o:]) & wmask
		if x>>kbits == want {
			pos, mi = o, x
		}
	}
	if pos < 0 {
		return 0, 0, false
	}
	return i + pos/w, mi & (1<<kbits - 1), true
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
	i    int    // next position
	b    uint64 // bucket of position i
	bend int    // end of bucket b
	e    int    // next position in t.expPos
}

func (t *table) cursor() cursor {
	c := cursor{t: t}
	if t != nil {
		c.bend = t.start(1)
	}
	return c
}

func (c *cursor) next() (rec, bool) {
	t := c.t
	if t == nil || c.i >= t.n {
		return rec{}, false
	}
	for c.i >= c.bend {
		c.b++
		c.bend = t.start(c.b + 1)
	}
	x := t.slot(c.i)
	mi := x & (1<<t.kbits - 1)
	m := t.metas[mi]
	r := rec{v: (c.b<<t.rbits|x>>t.kbits)<<metaBits | uint64(m)}
	if m&bitExp != 0 {
		if t.ats != nil {
			r.at = t.ats[mi]
		} else {
			for t.expPos[c.e] < uint32(c.i) {
				c.e++
			}
			r.at = t.expAt[c.e]
		}
	}
	if t.pats != nil {
		r.pat = t.pats[c.i]
	}
	c.i++
	return r, true
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
	n := len(r.vals)
	if n == 0 {
		return nil
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
	// The layout: bucket bits from bucketBits up to 3 more (smaller
	// buckets, a bigger directory), whichever takes the fewest bytes, the
	// smallest buckets on a tie; dictionary mode (expiries in the
	// dictionary) when it fits and costs no more than a sparse expiry array.
	kA, kM := bitsFor(len(dictA)), bitsFor(len(dictM))
	var bb uint
	var wA, wM int
	var dictMode bool
	best := -1
	for b := bucketBits(n); b <= min(bucketBits(n)+3, 30); b++ {
		r := keyBits - b
		a, m := bytesFor(r+kA), bytesFor(r+kM)
		okA := len(dictA) <= maxDict && r+kA <= 64
		costA, costM := n*a+10*len(dictA), n*m+12*nExp
		cost, dm := costM, false
		if okA && costA <= costM {
			cost, dm = costA, true
		}
		cost += 2 << b // lo
		if best < 0 || cost <= best {
			best, bb, wA, wM, dictMode = cost, b, a, m, dm
		}
	}
	t := &table{n: n, rbits: keyBits - bb}
	if dictMode {
		t.kbits, t.w = kA, wA
		t.metas = make([]uint16, len(dictA))
		t.ats = make([]int64, len(dictA))
		for i, d := range dictA {
			t.metas[i], t.ats[i] = d.m, d.at
		}
	} else {
		t.kbits, t.w = kM, wM
		t.metas = dictM
		t.expPos = make([]uint32, 0, nExp)
		t.expAt = make([]int64, 0, nExp)
	}
	t.wmask = ^uint64(0)
	if t.w < 8 {
		t.wmask = 1<<(8*t.w) - 1
	}
	// Pass 2: the slots and where each bucket starts.
	t.slots = make([]byte, n*t.w+7)
	nb := uint64(1) << bb
	starts := make([]uint32, nb+1)
	remMask := uint64(1)<<t.rbits - 1
	b, e := uint64(0), 0
	for i, v := range r.vals {
		h, m := v>>metaBits, uint16(v&metaMask)
		for ; b <= h>>t.rbits; b++ {
			starts[b] = uint32(i)
		}
		var mi int32
		switch {
		case !dictMode:
			mi = idxM[m]
			if m&bitExp != 0 {
				t.expPos = append(t.expPos, uint32(i))
				t.expAt = append(t.expAt, r.ats[e])
				e++
			}
		case m&bitExp == 0:
			mi = idxA[m]
		default:
			mi = idxAExp[metaAt{m, r.ats[e]}]
			e++
		}
		// Slots are written in ascending order, so the bytes this writes
		// past slot i (zeros) belong to slots not written yet.
		binary.LittleEndian.PutUint64(t.slots[i*t.w:], (h&remMask)<<t.kbits|uint64(mi-1))
	}
	for ; b <= nb; b++ {
		starts[b] = uint32(n)
	}
	if keepPats {
		t.pats = slices.Clip(r.pats)
	}
	t.setDir(starts, bb)
	return t
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
