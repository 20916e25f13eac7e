package blocklist

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// TestASnapshotReadsBackTheSameIndex: base, delta and recent tables (the
// file has no third table: the recent changes go into its delta),
// prefixes, tombstones and both ways of keeping expiries (a dictionary,
// and a sparse list when expiries are too many) answer every lookup as
// before.
func TestASnapshotReadsBackTheSameIndex(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	b := NewIndexBuilder(0)
	var numbers []string
	for i := range 30_000 {
		e := Entry{Pattern: fmt.Sprintf("+86%d", randomMobile(rng)), Kind: KindExact, Category: Category(1 + i%5),
			Source: Source(1 + i%3), Confidence: i % 101}
		switch {
		case i%7 == 0:
			e.ExpireTime = t0.Add(time.Duration(i) * time.Minute) // many distinct: a sparse list
		case i%5 == 0:
			e.ExpireTime = t0.Add(time.Hour)
		}
		numbers = append(numbers, e.Pattern)
		b.Add(e)
	}
	for i := range 300 {
		b.Add(Entry{Pattern: fmt.Sprintf("+%d", randomMobile(rng))[:8+i%4] + "*", Kind: KindPrefix, Category: CategorySpam, Source: SourceAnalyst})
	}
	x, err := b.Build(100)
	if err != nil {
		t.Fatal(err)
	}
	// More changes than the recent table keeps go to the delta; the next
	// ones stay recent, deleting some of the delta's and the base's.
	var chs []Change
	seq := uint64(100)
	for i := range 2 * maxRecent {
		seq++
		p := fmt.Sprintf("+86%d", randomMobile(rng))
		if i%10 == 0 {
			p = numbers[100+i] // an update of the base's
		}
		chs = append(chs, Change{Seq: seq, Op: ChangePut, Entry: Entry{Pattern: p, Kind: KindExact, Category: CategoryRobocall, Confidence: 7}})
		numbers = append(numbers, p)
	}
	x.Apply(chs...)
	chs = chs[:0]
	for i := range 50 {
		seq++
		chs = append(chs, Change{Seq: seq, Op: ChangeDelete, Entry: Entry{Pattern: numbers[i]}})
		seq++
		chs = append(chs, Change{Seq: seq, Op: ChangeDelete, Entry: Entry{Pattern: numbers[len(numbers)-1-i]}})
	}
	seq++
	chs = append(chs, Change{Seq: seq, Op: ChangePut, Entry: Entry{Pattern: "+8613800*", Kind: KindPrefix, Category: CategoryScam, ExpireTime: t0.Add(time.Minute)}})
	x.Apply(chs...)
	if s := x.snap.Load(); s.delta[0] == nil || s.recent[0] == nil || s.base[0] == nil {
		t.Fatalf("want exact numbers in all three tables, have base %v, delta %v, recent %v", s.base[0] != nil, s.delta[0] != nil, s.recent[0] != nil)
	}
	last := Change{Seq: seq, Op: ChangePut, Entry: Entry{Pattern: "+8613800*"}}
	path := filepath.Join(t.TempDir(), "snap")
	if err := writeSnapshot(path, x, last); err != nil {
		t.Fatal(err)
	}
	y, digest, err := readSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if digest != changeDigest(last) || y.Seq() != seq || y.Len() != x.Len() {
		t.Fatalf("read back seq %d, %d entries, digest ok %v; want %d, %d, true", y.Seq(), y.Len(), digest == changeDigest(last), seq, x.Len())
	}
	queries := append([]string{"+8613800138000"}, numbers...)
	for range 20_000 {
		queries = append(queries, fmt.Sprintf("+86%d", randomMobile(rng)))
	}
	for _, at := range []time.Time{t0, t0.Add(2 * time.Hour), t0.Add(1000 * time.Hour)} {
		now := func() time.Time { return at }
		for _, q := range queries {
			a, okA := x.Lookup(phone.Number(q), now)
			b, okB := y.Lookup(phone.Number(q), now)
			if okA != okB || a != b {
				t.Fatalf("at %v Lookup(%s): before %+v %v, after the snapshot %+v %v", at, q, a, okA, b, okB)
			}
		}
	}
}
