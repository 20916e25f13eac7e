package blocklist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/callverify/callverify/internal/phone"
)

// TestTableLayoutsHoldTheSameEntries: the blocked layout, on the heap or
// outside it, answers every lookup and reads back exactly as the bucketed
// one, with spilled blocks (keys packed into few blocks) and both ways of
// keeping expiries.
func TestTableLayoutsHoldTheSameEntries(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	random := func(int) uint64 { return rng.Uint64() }
	oneMeta := func(int) uint16 { return 3<<catShift | 1<<srcShift | 80<<confShift }
	manyMetas := func(int) uint16 { return uint16(rng.IntN(1 << metaBits)) }
	sameExp := func(int) int64 { return 1_900_000_000_000 }
	ownExp := func(i int) int64 { return 1_900_000_000_000 + int64(i) }
	cases := []struct {
		name string
		c    tableCase
	}{
		{"random, expiries in the dictionary", newTableCase(4000, random, oneMeta, 20, sameExp)},
		{"random, sparse expiries", newTableCase(4000, random, manyMetas, 3, ownExp)},
		// 40 consecutive keys to a stretch 2^36 apart: whole blocks
		// spill into the overflow table.
		{"spilled blocks", newTableCase(4000, func(i int) uint64 { return uint64(i/40)<<36 + uint64(i%40) }, oneMeta, 7, ownExp)},
	}
	for _, tc := range cases {
		for _, lay := range []layout{{false, math.MaxInt}, {true, math.MaxInt}, {true, 1}} {
			t.Run(fmt.Sprintf("%s/blocked=%v/offheap=%v", tc.name, lay.blocked, lay.offHeapMin == 1), func(t *testing.T) {
				tb := encodeAs(tc.c.run(false), false, lay)
				if got := tb.nblk != 0; got != lay.blocked {
					t.Fatalf("blocked %v, want %v", got, lay.blocked)
				}
				if tc.name == "spilled blocks" && lay.blocked && tb.over.len() < len(tc.c.keys)/4 {
					t.Fatalf("%d entries in the overflow table, want at least a quarter", tb.over.len())
				}
				checkTable(t, tb, tc.c, false, 3)
				runtime.KeepAlive(tb)
			})
		}
	}
}

// offHeapIndex returns an index of n random mobile numbers whose exact
// table is blocked and outside the heap, and the numbers.
func offHeapIndex(t *testing.T, n int, seq uint64) (*Index, []string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), seq))
	b := NewIndexBuilder(n)
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+%d", randomMobile(rng))
		e := Entry{Pattern: numbers[i], Kind: KindExact, Category: CategoryScam, Confidence: i % 101}
		if i%9 == 0 {
			e.ExpireTime = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		}
		b.Add(e)
	}
	x, err := b.Build(seq)
	if err != nil {
		t.Fatal(err)
	}
	s := x.snap.Load()
	s.base[0] = encodeAs(s.base[0].decode(false), false, layout{blocked: true, offHeapMin: 1})
	return x, numbers
}

// mapped reports whether a mapping of the process starts at addr, and its
// smaps entry (Linux only).
func mapped(t *testing.T, addr uintptr) (bool, string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	start := fmt.Sprintf("%x-", addr)
	in, vma := false, ""
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			if in {
				break
			}
			in = strings.HasPrefix(line, start)
		}
		if in {
			vma += line
		}
	}
	return in, vma
}

// TestOffHeapTablesAreFreedOnlyWhenUnreachable: a lookup that holds an
// old snapshot reads its tables through merges and garbage collections;
// once nothing holds them, their memory is unmapped.
func TestOffHeapTablesAreFreedOnlyWhenUnreachable(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("tables stay on the heap outside Linux")
	}
	x, numbers := offHeapIndex(t, 5000, 1)
	old := x.snap.Load()
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(old.base[0].slots)))
	// "hg": madvised for huge pages. (Whether the kernel gave it huge
	// pages, AnonHugePages, depends on the machine's free memory.)
	if ok, vma := mapped(t, addr); !ok || !strings.Contains(vma, " hg") {
		t.Fatalf("the table's slots are not a mapping of their own advised for huge pages:\n%s", vma)
	}
	now := func() time.Time { return time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC) }
	want := make([]match, len(numbers))
	for i, n := range numbers {
		q, _ := parseQuery(n)
		m, ok := old.lookup(q, now)
		if !ok {
			t.Fatalf("%s not found", n)
		}
		want[i] = m
	}
	// More changes than the delta takes: the exact table is merged into
	// a new base, and the old one is garbage.
	rng := rand.New(rand.NewPCG(5, 5))
	var chs []Change
	for i := range minCompact + 1 {
		chs = append(chs, Change{Seq: uint64(2 + i), Op: ChangePut, Entry: Entry{Pattern: fmt.Sprintf("+%d", randomMobile(rng)), Kind: KindExact}})
	}
	x.Apply(chs...)
	if x.snap.Load().base[0] == old.base[0] || x.snap.Load().delta[0] != nil {
		t.Fatal("the changes were not merged into a new base")
	}
	runtime.GC()
	runtime.GC()
	for i, n := range numbers {
		q, _ := parseQuery(n)
		if m, ok := old.lookup(q, now); !ok || m != want[i] {
			t.Fatalf("after a merge and GC, the old snapshot gives %+v %v for %s, want %+v", m, ok, n, want[i])
		}
	}
	if ok, _ := mapped(t, addr); !ok {
		t.Fatal("the old table's memory was unmapped while a snapshot held it")
	}
	runtime.KeepAlive(old)
	old = nil
	for i := 0; ; i++ {
		runtime.GC()
		if ok, _ := mapped(t, addr); !ok {
			break
		}
		if i == 100 {
			t.Fatal("the old table's memory is still mapped after 100 collections")
		}
		time.Sleep(time.Millisecond) // the cleanup runs on its own goroutine
	}
	for _, n := range numbers {
		if _, ok := x.Lookup(phone.Number(n), now); !ok {
			t.Fatalf("%s not found in the merged index", n)
		}
	}
}

// TestASnapshotReadsBackABlockedTable: a blocked table outside the heap
// is written and read back as it was.
func TestASnapshotReadsBackABlockedTable(t *testing.T) {
	t.Parallel()
	x, numbers := offHeapIndex(t, 3000, 7)
	var buf strings.Builder
	if err := encodeSnapshot(&buf, x, Change{Seq: 7}); err != nil {
		t.Fatal(err)
	}
	y, _, err := decodeSnapshot([]byte(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := x.snap.Load().base[0], y.snap.Load().base[0]; b.nblk != a.nblk || b.n != a.n || string(b.slots) != string(a.slots) {
		t.Fatalf("read back %d blocks, %d entries; want %d, %d, the same slots", b.nblk, b.n, a.nblk, a.n)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for range 3000 {
		numbers = append(numbers, fmt.Sprintf("+%d", randomMobile(rng)))
	}
	now := func() time.Time { return time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC) }
	for _, n := range numbers {
		a, okA := x.Lookup(phone.Number(n), now)
		b, okB := y.Lookup(phone.Number(n), now)
		if okA != okB || a != b {
			t.Fatalf("Lookup(%s): %+v %v, read back %+v %v", n, a, okA, b, okB)
		}
	}
}
