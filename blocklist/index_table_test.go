package blocklist

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// tableCase is a set of entries for a table: hashed keys with metadata and
// expiry, ascending.
type tableCase struct {
	keys  []uint64
	metas []uint16
	ats   []int64
}

func (c tableCase) run(keepPats bool) run {
	var r run
	for i, k := range c.keys {
		x := rec{v: k<<metaBits | uint64(c.metas[i]), at: c.ats[i]}
		if keepPats {
			x.pat = patOf(k)
		}
		r.add(x, keepPats)
	}
	return r
}

// patOf is the pattern a test table keeps for key k.
func patOf(k uint64) string { return "p" + strconv.FormatUint(k, 10) }

// newTableCase returns n distinct keys from gen with metadata from meta
// and, for one entry in expEvery, an expiry from exp.
func newTableCase(n int, gen func(i int) uint64, meta func(i int) uint16, expEvery int, exp func(i int) int64) tableCase {
	// Sorted and compacted rather than deduplicated through a map: these
	// tables run to 300k keys, and the race detector makes every map
	// access of a test costly.
	keys := make([]uint64, 0, n)
	for i := 0; len(keys) < n; {
		for ; len(keys) < n; i++ {
			keys = append(keys, gen(i)&(1<<keyBits-1))
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
	}
	c := tableCase{keys: keys, metas: make([]uint16, n), ats: make([]int64, n)}
	for i := range keys {
		m := meta(i) &^ (bitTomb | bitExp)
		if expEvery > 0 && i%expEvery == 0 {
			m |= bitExp
			c.ats[i] = exp(i)
		}
		c.metas[i] = m
	}
	return c
}

// checkTable looks every key of c up in t, and keys next to them that are
// not in c: the neighbours, and keys with the same remainder in other
// buckets (which a slot alone cannot tell apart).
func checkTable(t *testing.T, tb *table, c tableCase, keepPats bool, stride int) {
	t.Helper()
	if tb.len() != len(c.keys) {
		t.Fatalf("len = %d, want %d", tb.len(), len(c.keys))
	}
	if len(c.keys) == 0 {
		return
	}
	in := func(k uint64) bool { _, ok := slices.BinarySearch(c.keys, k); return ok }
	for i := 0; i < len(c.keys); i += stride {
		k := c.keys[i]
		h, pos, mi := tb.find(k)
		if h == nil {
			t.Fatalf("key %#x (entry %d of %d) not found", k, i, len(c.keys))
		}
		if got := h.metas[mi]; got != c.metas[i] {
			t.Fatalf("key %#x: metadata %#x, want %#x", k, got, c.metas[i])
		}
		if c.metas[i]&bitExp != 0 {
			if got := h.expiry(pos, mi); got != c.ats[i] {
				t.Fatalf("key %#x: expiry %d, want %d", k, got, c.ats[i])
			}
		}
		if keepPats && h.pats[pos] != patOf(k) {
			t.Fatalf("key %#x: pattern %q", k, h.pats[pos])
		}
		rem := k & (1<<tb.rbits - 1)
		for _, o := range []uint64{k - 1, k + 1, rem, rem | (1<<keyBits-1)&^(1<<tb.rbits-1), k ^ 1<<tb.rbits, k ^ 1<<(keyBits-1)} {
			o &= 1<<keyBits - 1
			if h, _, _ := tb.find(o); (h != nil) != in(o) {
				t.Fatalf("key %#x (near %#x): found %v, want %v", o, k, h != nil, in(o))
			}
		}
	}
	// Reading the table back gives what went in.
	got := tb.decode(keepPats)
	want := c.run(keepPats)
	if !slices.Equal(got.vals, want.vals) || !slices.Equal(got.ats, want.ats) || !slices.Equal(got.pats, want.pats) {
		t.Fatal("decode does not give back the entries encoded")
	}
}

func TestTableEncodingEdgeCases(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(int) uint64 { return rng.Uint64() }
	oneMeta := func(int) uint16 { return 3<<catShift | 1<<srcShift | 80<<confShift }
	manyMetas := func(int) uint16 { return uint16(rng.IntN(1 << metaBits)) }
	sameExp := func(int) int64 { return 1_900_000_000_000 }
	ownExp := func(i int) int64 { return 1_900_000_000_000 + int64(i) }
	const either, dict, sparse = 0, 1, 2 // where the expiries go
	cases := []struct {
		name   string
		c      tableCase
		mode   int
		stride int // look up every stride-th key (decode still reads them all)
	}{
		{"one entry", newTableCase(1, random, oneMeta, 0, nil), either, 1},
		{"two entries", newTableCase(2, random, oneMeta, 1, sameExp), either, 1},
		{"extremes", newTableCase(4, func(i int) uint64 { return []uint64{0, 1, 1<<keyBits - 2, 1<<keyBits - 1}[i] }, oneMeta, 2, sameExp), either, 1},
		{"small table", newTableCase(1000, random, manyMetas, 3, sameExp), either, 1},
		{"at the small-table limit", newTableCase(smallTable, random, oneMeta, 50, sameExp), dict, 3},
		{"just over it", newTableCase(smallTable+1, random, oneMeta, 50, sameExp), dict, 3},
		{"shared expiry", newTableCase(100_000, random, oneMeta, 50, sameExp), dict, 5},
		// More distinct expiries than the dictionary holds (maxDict).
		{"expiries all different", newTableCase(100_000, random, oneMeta, 20, ownExp), sparse, 7},
		{"every metadata value", newTableCase(100_000, random, manyMetas, 7, sameExp), sparse, 5},
		// Keys at the edges of buckets: every bucket boundary for 2^10
		// buckets and its neighbours.
		{"bucket edges", newTableCase(3*1024, func(i int) uint64 {
			return uint64(i/3)<<(keyBits-10) + uint64(i%3) - 1
		}, oneMeta, 4, ownExp), either, 1},
		// Keys that differ only in their top bits: one remainder, many
		// buckets.
		{"same remainder", newTableCase(5000, func(i int) uint64 { return uint64(i)<<(keyBits-13) | 0x12345 }, oneMeta, 0, nil), either, 1},
		// Keys that all fall into one bucket, more than a uint16 offset
		// reaches: the directory falls back to a uint32 per bucket.
		{"one full bucket", newTableCase(1<<16+4000, func(i int) uint64 { return uint64(i) }, oneMeta, 9, sameExp), dict, 2999},
	}
	for _, tc := range cases {
		for _, keepPats := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/pats=%v", tc.name, keepPats), func(t *testing.T) {
				t.Parallel() // the cases only read tc
				tb := encode(tc.c.run(keepPats), keepPats)
				if got := tb.ats != nil; tc.mode != either && got != (tc.mode == dict) {
					t.Errorf("expiries in the dictionary: %v, want %v", got, tc.mode == dict)
				}
				checkTable(t, tb, tc.c, keepPats, tc.stride)
			})
		}
	}
	if tb := encode(run{}, false); tb != nil || tb.len() != 0 {
		t.Error("an empty run gives a table")
	}
}

func TestTableDirectoryFallsBackWhenABucketOverflows(t *testing.T) {
	t.Parallel()
	bucketed := layout{offHeapMin: offHeapMin}
	c := newTableCase(100_000, func(i int) uint64 { return uint64(i) }, func(int) uint16 { return 4 }, 0, nil)
	tb := encodeAs(c.run(false), false, bucketed)
	if tb.gshift != 0 {
		t.Errorf("group shift %d, want 0: the first bucket holds all %d entries", tb.gshift, len(c.keys))
	}
	// An even spread keeps big groups.
	rng := rand.New(rand.NewPCG(1, 1))
	even := encodeAs(newTableCase(100_000, func(int) uint64 { return rng.Uint64() }, func(int) uint16 { return 4 }, 0, nil).run(false), false, bucketed)
	if even.gshift < 8 {
		t.Errorf("group shift %d for evenly spread keys, want at least 8", even.gshift)
	}
}

func TestMergeOverlaysAndDropsTombstones(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	model := map[uint64]rec{}
	var base *table
	for round := range 30 {
		ups := map[uint64]rec{}
		for range 1 + rng.IntN(3000) {
			k := uint64(rng.IntN(20000)) * 0x9e3779b97f4a7 & (1<<keyBits - 1)
			x := rec{v: k<<metaBits | uint64(rng.IntN(5))<<catShift, pat: fmt.Sprint("p", k)}
			switch rng.IntN(4) {
			case 0:
				x.v |= bitTomb
			case 1:
				x.v |= bitExp
				x.at = int64(rng.IntN(1000))
			}
			ups[k] = x
		}
		var upd run
		for _, k := range slices.Sorted(func(yield func(uint64) bool) {
			for k := range ups {
				if !yield(k) {
					return
				}
			}
		}) {
			upd.add(ups[k], true)
			if ups[k].v&bitTomb != 0 {
				delete(model, k)
			} else {
				model[k] = ups[k]
			}
		}
		base = merge(base, upd, false, true)
		if base.len() != len(model) {
			t.Fatalf("round %d: %d entries, want %d", round, base.len(), len(model))
		}
		c := base.cursor()
		for x, ok := c.next(); ok; x, ok = c.next() {
			if w, in := model[x.key()]; !in || w.v != x.v || w.at != x.at || w.pat != x.pat {
				t.Fatalf("round %d: entry %+v, want %+v (present %v)", round, x, w, in)
			}
		}
	}
}

func TestSortKeysIsStableOnKeys(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 3))
	for _, n := range []int{0, 1, 100, 5000, 200_000} {
		vals := make([]uint64, n)
		for i := range vals {
			// Few distinct keys so that many values tie; the metadata
			// bits hold the original position (mod 2^14) to check
			// stability.
			vals[i] = uint64(rng.IntN(max(1, n/4)))<<(metaBits+20) | uint64(i)&metaMask
		}
		want := slices.Clone(vals)
		slices.SortStableFunc(want, func(a, b uint64) int { return cmpU64(a>>metaBits, b>>metaBits) })
		sortKeys(vals)
		if !slices.Equal(vals, want) {
			t.Fatalf("n=%d: radix sort differs from a stable sort", n)
		}
	}
}

func TestMix50IsABijection(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 4))
	for range 100_000 {
		x := rng.Uint64() & (1<<keyBits - 1)
		if y := mix50(x); y >= 1<<keyBits || unmix50(y) != x {
			t.Fatalf("mix50(%#x) = %#x, unmix50 gives %#x", x, y, unmix50(y))
		}
	}
}

func TestQueryParseAndPrefix(t *testing.T) {
	t.Parallel()
	ref := func(str string) (uint64, bool) {
		if len(str) < 2 || len(str) > 16 || str[0] != '+' {
			return 0, false
		}
		k := uint64(0)
		for i := 1; i < len(str); i++ {
			c := str[i] - '0'
			if c > 9 {
				return 0, false
			}
			k = k*10 + uint64(c)
		}
		return k, true
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const odd = "+ a/:\x00\xff\xfa\x3a\x2f"
	for range 100_000 {
		b := []byte{}
		if rng.IntN(20) != 0 {
			b = append(b, '+')
		}
		for range rng.IntN(18) {
			c := byte('0' + rng.IntN(10))
			if rng.IntN(30) == 0 {
				c = odd[rng.IntN(len(odd))]
			}
			b = append(b, c)
		}
		q, ok := parseQuery(string(b))
		k, wok := ref(string(b))
		if ok != wok || ok && (q.key != k || q.nd != len(b)-1 || q.str != string(b)) {
			t.Fatalf("parseQuery(%q) = %+v %v, want key %d %v", b, q, ok, k, wok)
		}
		if !ok {
			continue
		}
		p := uint64(1)
		for l := q.nd; l >= 1; l-- {
			if got, want := q.prefix(l), k/p; got != want {
				t.Fatalf("%q: prefix(%d) = %d, want %d", b, l, got, want)
			}
			p *= 10
		}
	}
	// The reciprocals are exact up to the largest key.
	for k := 1; k < 16; k++ {
		d := uint64(1)
		for range k {
			d *= 10
		}
		for _, key := range []uint64{1<<keyBits - 1, 999_999_999_999_999, d - 1, d, d*2 - 1, 1<<keyBits - 1 - 1<<keyBits%d} {
			q := query{nd: 15, key: key}
			if got := q.prefix(15 - k); got != key/d {
				t.Fatalf("%d / 10^%d = %d, want %d", key, k, got, key/d)
			}
		}
	}
}
