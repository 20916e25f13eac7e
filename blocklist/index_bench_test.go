package blocklist

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// The benchmarks build indexes of 1M and 10M random Chinese mobile numbers
// plus 1,000 prefixes of 6 to 9 digits, and look up a mix of numbers that
// are blocked and numbers that are not, in random order.
//
//	go test -run '^$' -bench 'Index' -benchtime 2000000x ./blocklist/
//
// Reported: ns/op per lookup, B/entry (live heap of the index and its
// memory outside the heap, over its entries, after GC) and build-ms (Add
// of every entry, then Build: sort and encode).

type benchIndex struct {
	x        *Index
	svc      *Service
	queries  []string // canonical E.164, half of them blocked
	hits     []string // blocked numbers only
	misses   []string // numbers not blocked
	national []string // the same numbers as written nationally ("138 0013 8000")
	perEntry float64
	buildMs  float64
}

var (
	benchMu      sync.Mutex
	benchIndexes = map[int]*benchIndex{}
)

func randomMobile(rng *rand.Rand) uint64 {
	// +86 1[3-9]x xxxx xxxx: 13 digits.
	return 86_000_000_000_00 + uint64(13+rng.IntN(7))*1_000_000_000 + uint64(rng.IntN(1_000_000_000))
}

func benchSetup(b *testing.B, n int) *benchIndex {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if bi, ok := benchIndexes[n]; ok {
		return bi
	}
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	const nq = 1 << 20
	bi := &benchIndex{queries: make([]string, 0, nq), national: make([]string, 0, nq)}
	sample := make([]uint64, 0, nq/2)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	bld := NewIndexBuilder(n)
	e := Entry{Kind: KindExact, Category: CategoryScam, Source: SourceImport, Confidence: 90}
	var buf [20]byte
	for i := range n {
		k := randomMobile(rng)
		if len(sample) < cap(sample) && rng.IntN(n/cap(sample)+1) == 0 {
			sample = append(sample, k)
		}
		e.Pattern = string(strconv.AppendUint(append(buf[:0], '+'), k, 10))
		if i%50 == 0 { // a few entries expire, as imported lists often do
			e.ExpireTime = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		} else {
			e.ExpireTime = time.Time{}
		}
		bld.Add(e)
	}
	e.Kind = KindPrefix
	e.ExpireTime = time.Time{}
	for range 1000 {
		l := 6 + rng.IntN(4)
		e.Pattern = fmt.Sprintf("+%d", randomMobile(rng))[:1+l] + "*"
		bld.Add(e)
	}
	x, err := bld.Build(0)
	if err != nil {
		b.Fatal(err)
	}
	bi.buildMs = float64(time.Since(start).Microseconds()) / 1000
	bld = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Big tables keep their slots outside the Go heap: they count too.
	bi.perEntry = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)+int64(x.snap.Load().offHeap())) / float64(x.Len())
	bi.x = x
	p, err := phone.NewParser("CN")
	if err != nil {
		b.Fatal(err)
	}
	bi.svc = &Service{phone: p, now: time.Now, index: x}
	for i := range nq {
		k := randomMobile(rng)
		if i%2 == 0 && len(sample) > 0 {
			k = sample[rng.IntN(len(sample))]
		}
		s := fmt.Sprintf("+%d", k)
		bi.queries = append(bi.queries, s)
		if i%2 == 0 {
			bi.hits = append(bi.hits, s)
		} else {
			bi.misses = append(bi.misses, s)
		}
		bi.national = append(bi.national, s[3:6]+" "+s[6:10]+" "+s[10:])
	}
	benchIndexes[n] = bi
	return bi
}

func benchSizes(b *testing.B, f func(b *testing.B, bi *benchIndex)) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("n=%dM", n/1_000_000), func(b *testing.B) {
			if testing.Short() && n > 1_000_000 {
				b.Skip("10M entries in -short mode")
			}
			f(b, benchSetup(b, n))
		})
	}
}

// BenchmarkIndexLookup is the verify hot path: an already parsed number.
func BenchmarkIndexLookup(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		hits := 0
		b.ResetTimer()
		for i := range b.N {
			if _, ok := bi.x.Lookup(phone.Number(bi.queries[i&(len(bi.queries)-1)]), time.Now); ok {
				hits++
			}
		}
		b.StopTimer()
		b.ReportMetric(bi.perEntry, "B/entry")
		b.ReportMetric(bi.buildMs, "build-ms")
		if hits == 0 {
			b.Fatal("no lookup matched")
		}
	})
}

// BenchmarkIndexLookupHitMiss splits the figure: a hit and a miss both
// read one bucket; a hit also builds the entry.
func BenchmarkIndexLookupHitMiss(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		for _, q := range []struct {
			name string
			list []string
		}{{"hit", bi.hits}, {"miss", bi.misses}} {
			b.Run(q.name, func(b *testing.B) {
				mask := 1<<bits.Len(uint(len(q.list))) - 1
				for i := range b.N {
					bi.x.Lookup(phone.Number(q.list[i&mask%len(q.list)]), time.Now)
				}
			})
		}
	})
}

// BenchmarkMatchString includes normalisation of a raw string: canonical
// E.164 input takes the fast path.
func BenchmarkMatchString(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		b.ResetTimer()
		for i := range b.N {
			if _, _, err := bi.svc.MatchString(bi.queries[i&(len(bi.queries)-1)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMatchStringNational is the slow path: national-format input that
// needs libphonenumber. (Some random numbers are in ranges libphonenumber
// refuses; those cost a parse too.)
func BenchmarkMatchStringNational(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		b.ResetTimer()
		for i := range b.N {
			bi.svc.MatchString(bi.national[i&(len(bi.national)-1)])
		}
	})
}

// BenchmarkIndexLookupParallel shows that readers share nothing writable.
func BenchmarkIndexLookupParallel(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(bi.queries))
			for pb.Next() {
				bi.x.Lookup(phone.Number(bi.queries[i&(len(bi.queries)-1)]), time.Now)
				i++
			}
		})
	})
}

// BenchmarkIndexApply measures keeping the index in step: batches of 1,000
// changes (an import batch) into a 1M/10M index.
func BenchmarkIndexApply(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		rng := rand.New(rand.NewPCG(7, 7))
		seq := bi.x.Seq()
		batch := make([]Change, 1000)
		e := Entry{Kind: KindExact, Category: CategorySpam, Source: SourceImport}
		b.ResetTimer()
		for range b.N {
			for j := range batch {
				seq++
				e.Pattern = fmt.Sprintf("+%d", randomMobile(rng))
				batch[j] = Change{Seq: seq, Op: ChangePut, Entry: e}
			}
			bi.x.Apply(batch...)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/change")
	})
}

// onBase is an index of its own on bi's base (tables are immutable), so
// that a benchmark that changes it starts from the same state every run.
func onBase(bi *benchIndex) *Index {
	old := bi.x.snap.Load()
	x := &Index{seq: bi.x.Seq()}
	x.snap.Store(&snapshot{base: old.base, prefixes: old.prefixes, pf: old.pf})
	return x
}

// changesAfter returns a function that makes x's next change: an
// analyst's entry for a random mobile number.
func changesAfter(x *Index, seed uint64) func() Change {
	rng := rand.New(rand.NewPCG(seed, seed))
	seq := x.Seq()
	e := Entry{Kind: KindExact, Category: CategorySpam, Source: SourceAnalyst}
	return func() Change {
		seq++
		e.Pattern = fmt.Sprintf("+%d", randomMobile(rng))
		return Change{Seq: seq, Op: ChangePut, Entry: e}
	}
}

// BenchmarkIndexApplyOne measures a single change, as the follower applies
// a single write (an analyst's entry, a report's block), into a 1M/10M
// index whose delta is half the size at which it is merged into the base.
func BenchmarkIndexApplyOne(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		x := onBase(bi)
		change := changesAfter(x, 8)
		fill := make([]Change, x.snap.Load().base[0].len()/64)
		for j := range fill {
			fill[j] = change()
		}
		x.Apply(fill...)
		if s := x.snap.Load(); s.delta[0].len() < len(fill)/2 {
			b.Fatalf("the delta holds %d changes, want about %d", s.delta[0].len(), len(fill))
		}
		b.ResetTimer()
		for range b.N {
			x.Apply(change())
		}
	})
}

// BenchmarkMatchStringAfterChanges is BenchmarkMatchString on an index
// that has taken changes since its base was built, as a serving index has:
// a delta of 4,000 entries and some hundred single changes after it.
func BenchmarkMatchStringAfterChanges(b *testing.B) {
	benchSizes(b, func(b *testing.B, bi *benchIndex) {
		x := onBase(bi)
		change := changesAfter(x, 9)
		batch := make([]Change, 4000)
		for j := range batch {
			batch[j] = change()
		}
		x.Apply(batch...)
		for range 300 {
			x.Apply(change())
		}
		svc := &Service{phone: bi.svc.phone, now: time.Now, index: x}
		b.ResetTimer()
		for i := range b.N {
			if _, _, err := svc.MatchString(bi.queries[i&(len(bi.queries)-1)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
