package blocklist

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

var tIdx = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func idxEntry(pattern string, c Category) Entry {
	k := KindExact
	if pattern[len(pattern)-1] == '*' {
		k = KindPrefix
	}
	return Entry{Pattern: pattern, Kind: k, Category: c, Source: SourceAnalyst, Confidence: 80}
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestIndexLongestActiveMatchWins(t *testing.T) {
	t.Parallel()
	b := NewIndexBuilder(0)
	b.Add(idxEntry("+86170*", CategorySpam))
	b.Add(idxEntry("+861701*", CategoryScam))
	b.Add(idxEntry("+8617012345678", CategoryImpersonation))
	expired := idxEntry("+861702*", CategoryRobocall)
	expired.ExpireTime = tIdx.Add(-time.Minute)
	b.Add(expired)
	live := idxEntry("+861703*", CategoryOther)
	live.ExpireTime = tIdx.Add(time.Hour)
	b.Add(live)
	x, err := b.Build(7)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		number  phone.Number
		want    string // pattern, "" for no match
		wantCat Category
	}{
		{"+8617012345678", "+8617012345678", CategoryImpersonation},
		{"+8617012345679", "+861701*", CategoryScam},
		{"+8617099999999", "+86170*", CategorySpam},
		{"+8617020000000", "+86170*", CategorySpam}, // the longer prefix has expired
		{"+8617030000000", "+861703*", CategoryOther},
		{"+8617100000000", "", 0},
		{"+8613800138000", "", 0},
		{"+1212", "", 0},
		{"", "", 0},
		{"8617012345678", "", 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.number), func(t *testing.T) {
			t.Parallel()
			got, ok := x.Lookup(tt.number, fixed(tIdx))
			if tt.want == "" {
				if ok {
					t.Fatalf("Lookup = %+v, want no match", got)
				}
				return
			}
			if !ok {
				t.Fatalf("Lookup found nothing, want %s", tt.want)
			}
			if got.Pattern != tt.want || got.Category != tt.wantCat {
				t.Errorf("Lookup = %s %s, want %s %s", got.Pattern, got.Category, tt.want, tt.wantCat)
			}
			if got.Source != SourceAnalyst || got.Confidence != 80 {
				t.Errorf("Lookup kept source %s confidence %d, want SOURCE_ANALYST 80", got.Source, got.Confidence)
			}
		})
	}
	if got, want := x.Seq(), uint64(7); got != want {
		t.Errorf("Seq = %d, want %d", got, want)
	}
	if got, want := x.Len(), 5; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
}

func TestIndexExpiryIsReadFromTheClockOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	b := NewIndexBuilder(0)
	e := idxEntry("+8613800138000", CategoryScam)
	e.ExpireTime = tIdx
	b.Add(e)
	b.Add(idxEntry("+8613900139000", CategoryScam))
	x, _ := b.Build(0)
	calls := 0
	clock := func() time.Time { calls++; return tIdx.Add(-time.Second) }
	if _, ok := x.Lookup("+8613900139000", clock); !ok || calls != 0 {
		t.Errorf("entry without expiry: ok=%v, clock read %d times, want match and 0 reads", ok, calls)
	}
	got, ok := x.Lookup("+8613800138000", clock)
	if !ok || !got.ExpireTime.Equal(tIdx) {
		t.Errorf("before expiry: %+v %v, want a match expiring at %v", got, ok, tIdx)
	}
	if _, ok := x.Lookup("+8613800138000", fixed(tIdx)); ok {
		t.Error("at the expiry instant the entry still matches")
	}
}

func TestIndexApplyKeepsStepWithChanges(t *testing.T) {
	t.Parallel()
	x := NewIndex()
	x.Apply(
		Change{Seq: 1, Op: ChangePut, Entry: idxEntry("+8613800138000", CategoryScam)},
		Change{Seq: 2, Op: ChangePut, Entry: idxEntry("+86171*", CategorySpam)},
	)
	if e, ok := x.Lookup("+8617100000000", fixed(tIdx)); !ok || e.Category != CategorySpam {
		t.Fatalf("after put prefix: %+v %v", e, ok)
	}
	// An old change (seq 2 again) is ignored; a newer one replaces.
	x.Apply(Change{Seq: 2, Op: ChangeDelete, Entry: idxEntry("+86171*", 0)})
	if _, ok := x.Lookup("+8617100000000", fixed(tIdx)); !ok {
		t.Fatal("a replayed change was applied")
	}
	x.Apply(Change{Seq: 3, Op: ChangePut, Entry: idxEntry("+8613800138000", CategoryRobocall)})
	if e, _ := x.Lookup("+8613800138000", fixed(tIdx)); e.Category != CategoryRobocall {
		t.Errorf("after update category = %s, want CATEGORY_ROBOCALL", e.Category)
	}
	x.Apply(Change{Seq: 4, Op: ChangeDelete, Entry: idxEntry("+8613800138000", 0)})
	if e, ok := x.Lookup("+8613800138000", fixed(tIdx)); ok {
		t.Errorf("after delete still matches %+v", e)
	}
	if got, want := x.Len(), 1; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got := x.OutOfOrder(); got != 0 {
		t.Errorf("OutOfOrder = %d, want 0", got)
	}
	x.Apply(Change{Seq: 9, Op: ChangeDelete, Entry: idxEntry("+86171*", 0)})
	if got := x.OutOfOrder(); got != 1 {
		t.Errorf("after a gap OutOfOrder = %d, want 1", got)
	}
}

// TestIndexAgreesWithAMapUnderRandomChanges drives the delta and its merges
// into the base through many random changes and compares with a plain map.
func TestIndexAgreesWithAMapUnderRandomChanges(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	// The model is a slice by number rather than a map, and the numbers
	// are formatted once: 40 rounds of 20,000 lookups stay cheap under the
	// race detector.
	const space = 20000
	pats := make([]string, space)
	for i := range pats {
		pats[i] = fmt.Sprintf("+86138%08d", i)
	}
	type slot struct {
		e  Entry
		in bool
	}
	want := make([]slot, space)
	held := 0
	put := func(i int, e Entry) {
		if !want[i].in {
			held++
		}
		want[i] = slot{e, true}
	}
	b := NewIndexBuilder(0)
	for range 5000 {
		i := rng.IntN(space)
		e := idxEntry(pats[i], Category(1+rng.IntN(5)))
		if rng.IntN(4) == 0 {
			e.ExpireTime = tIdx.Add(time.Duration(rng.IntN(200)-100) * time.Minute)
		}
		put(i, e)
	}
	for _, w := range want {
		if w.in {
			b.Add(w.e)
		}
	}
	x, err := b.Build(0)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	for round := range 40 {
		var batch []Change
		for range 1 + rng.IntN(800) {
			seq++
			i := rng.IntN(space)
			if rng.IntN(3) == 0 {
				batch = append(batch, Change{Seq: seq, Op: ChangeDelete, Entry: idxEntry(pats[i], 0)})
				if want[i].in {
					held--
				}
				want[i] = slot{}
				continue
			}
			e := idxEntry(pats[i], Category(1+rng.IntN(5)))
			e.Confidence = rng.IntN(101)
			if rng.IntN(4) == 0 {
				e.ExpireTime = tIdx.Add(time.Duration(rng.IntN(200)-100) * time.Minute)
			}
			batch = append(batch, Change{Seq: seq, Op: ChangePut, Entry: e})
			put(i, e)
		}
		x.Apply(batch...)
		if got := x.Len(); got != held {
			t.Fatalf("round %d: Len = %d, want %d", round, got, held)
		}
		for i, p := range pats {
			w := want[i]
			wantHit := w.in && w.e.ActiveAt(tIdx)
			got, ok := x.Lookup(phone.Number(p), fixed(tIdx))
			if ok != wantHit {
				t.Fatalf("round %d: Lookup(%s) ok=%v, want %v", round, p, ok, wantHit)
			}
			if ok && (got.Category != w.e.Category || got.Confidence != w.e.Confidence || !got.ExpireTime.Equal(w.e.ExpireTime)) {
				t.Fatalf("round %d: Lookup(%s) = %+v, want %+v", round, p, got, w.e)
			}
		}
	}
}

// TestIndexOneChangeAtATimeAgreesWithAMap applies changes one by one, as
// the follower does for single writes, so that they pass through every
// table: the recent changes, the delta they spill into, the base the delta
// is merged into; exact numbers and prefixes (a table of their own), some
// expiring. Each change is checked at once, and everything at each merge.
func TestIndexOneChangeAtATimeAgreesWithAMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 9))
	const exact, prefixes = 6000, 8000
	// pats[i] is held or not; query[i] is the number that finds it: the
	// prefixes (9 digits) cover no exact number, so each query has one
	// match at most.
	pats, query := make([]string, exact+prefixes), make([]string, exact+prefixes)
	for i := range exact {
		pats[i] = fmt.Sprintf("+86139%08d", i)
		query[i] = pats[i]
	}
	for i := range prefixes {
		pats[exact+i] = fmt.Sprintf("+86137%04d*", i)
		query[exact+i] = fmt.Sprintf("+86137%04d1234", i)
	}
	entry := func(i int) Entry {
		e := idxEntry(pats[i], Category(1+rng.IntN(5)))
		e.Confidence = rng.IntN(101)
		if rng.IntN(4) == 0 {
			e.ExpireTime = tIdx.Add(time.Duration(rng.IntN(200)-100) * time.Minute)
		}
		return e
	}
	want := make([]Entry, len(pats)) // zero Pattern: not held
	b := NewIndexBuilder(0)
	for i := range pats {
		if rng.IntN(3) > 0 {
			want[i] = entry(i)
			b.Add(want[i])
		}
	}
	x, err := b.Build(0)
	if err != nil {
		t.Fatal(err)
	}
	check := func(i int, when string) {
		t.Helper()
		w := want[i]
		active := w.Pattern != "" && w.ActiveAt(tIdx)
		got, ok := x.Lookup(phone.Number(query[i]), fixed(tIdx))
		if ok != active || ok && (got.Pattern != w.Pattern || got.Category != w.Category || got.Confidence != w.Confidence ||
			!got.ExpireTime.Equal(w.ExpireTime)) {
			t.Fatalf("%s: Lookup(%s) = %+v %v, want %+v (active %v)", when, query[i], got, ok, w, active)
		}
	}
	const prefixSlot = 9
	var sawDelta, sawRecent, merged [2]bool
	bases := [2]*table{x.snap.Load().base[0], x.snap.Load().base[prefixSlot]}
	for seq := uint64(1); seq <= 4*(minCompact+maxRecent); seq++ {
		i := rng.IntN(len(pats))
		c := Change{Seq: seq, Op: ChangeDelete, Entry: Entry{Pattern: pats[i]}}
		if rng.IntN(3) > 0 {
			c = Change{Seq: seq, Op: ChangePut, Entry: entry(i)}
			want[i] = c.Entry
		} else {
			want[i] = Entry{}
		}
		x.Apply(c)
		check(i, fmt.Sprintf("change %d", seq))
		s := x.snap.Load()
		all := false
		for k, slot := range [2]int{0, prefixSlot} {
			if n := s.recent[slot].len(); n > maxRecent {
				t.Fatalf("change %d: slot %d holds %d recent changes, more than %d", seq, slot, n, maxRecent)
			}
			sawDelta[k] = sawDelta[k] || s.delta[slot] != nil
			sawRecent[k] = sawRecent[k] || s.recent[slot] != nil
			if s.base[slot] != bases[k] {
				merged[k], bases[k], all = true, s.base[slot], true
			}
			all = all || s.recent[slot] == nil
		}
		if all {
			for j := range pats {
				check(j, fmt.Sprintf("after a merge at change %d", seq))
			}
		}
	}
	for k, what := range []string{"exact numbers", "prefixes"} {
		if !sawDelta[k] || !sawRecent[k] || !merged[k] {
			t.Errorf("the %s did not pass through every table: delta %v, recent %v, base merged %v", what, sawDelta[k], sawRecent[k], merged[k])
		}
	}
	held := 0
	for _, w := range want {
		if w.Pattern != "" {
			held++
		}
	}
	if x.Len() != held {
		t.Fatalf("Len = %d, want %d", x.Len(), held)
	}
}

// TestIndexNumbersOfEveryLength puts exact numbers and prefixes of many
// lengths and country codes side by side, including a prefix with as many
// digits as an exact number on the same digits.
func TestIndexNumbersOfEveryLength(t *testing.T) {
	t.Parallel()
	b := NewIndexBuilder(0)
	for _, p := range []string{
		"+12125550100", "+441632960000", "+8613800138000", "+861380013800", "+86138001380001",
		"+999999999999999", "+100000000000000", "+1234567", "+7", "+79",
		"+1212555*", "+44163296*", "+8613800138000*", "+86138001380*", "+9999999999999*", "+100000000000000*",
	} {
		b.Add(idxEntry(p, CategoryScam))
	}
	exp := idxEntry("+4916012345678", CategorySpam)
	exp.ExpireTime = tIdx.Add(-time.Second)
	b.Add(exp)
	b.Add(idxEntry("+4916012345678*", CategoryRobocall))
	x, err := b.Build(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ number, want string }{
		{"+12125550100", "+12125550100"},
		{"+12125550199", "+1212555*"},
		{"+1212555", "+1212555*"},
		{"+121255", ""},
		{"+441632960000", "+441632960000"},
		{"+441632960001", "+44163296*"},
		{"+8613800138000", "+8613800138000"}, // exact beats the prefix on the same digits
		{"+86138001380000", "+8613800138000*"},
		{"+861380013800", "+861380013800"},
		{"+86138001380001", "+86138001380001"},
		{"+86138001380002", "+8613800138000*"},
		{"+8613800138001", "+86138001380*"},
		{"+86138001381", ""},
		{"+999999999999999", "+999999999999999"},
		{"+999999999999998", "+9999999999999*"},
		{"+100000000000000", "+100000000000000"},
		{"+1234567", "+1234567"},
		{"+7", "+7"},
		{"+79", "+79"},
		{"+78", ""},
		{"+4916012345678", "+4916012345678*"}, // the exact entry has expired
		{"+49160123456789", "+4916012345678*"},
		{"+0123456789", ""},
		{"+1234567890123456", ""},
	} {
		got, ok := x.Lookup(phone.Number(tt.number), fixed(tIdx))
		if ok != (tt.want != "") || ok && got.Pattern != tt.want {
			t.Errorf("Lookup(%s) = %q %v, want %q", tt.number, got.Pattern, ok, tt.want)
		}
		if ok && got.Kind != map[bool]Kind{true: KindPrefix, false: KindExact}[tt.want[len(tt.want)-1] == '*'] {
			t.Errorf("Lookup(%s) kind %s", tt.number, got.Kind)
		}
	}
}

// TestIndexPrefixesAgreeWithAModelUnderChanges drives prefix and exact
// changes of every length through the delta, its merges and the prefix
// filter's growth, and compares longest-match answers with brute force.
func TestIndexPrefixesAgreeWithAModelUnderChanges(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	digits := func(n int) string {
		b := []byte("+86")
		for len(b) < n+1 {
			b = append(b, byte('0'+rng.IntN(3))) // few digits, many overlaps
		}
		return string(b)
	}
	pattern := func() string {
		if rng.IntN(2) == 0 {
			return digits(5+rng.IntN(10)) + "*"
		}
		return digits(8 + rng.IntN(7))
	}
	want := map[string]Entry{}
	b := NewIndexBuilder(0)
	for range 300 {
		e := idxEntry(pattern(), Category(1+rng.IntN(5)))
		want[e.Pattern] = e
	}
	for _, e := range want {
		b.Add(e)
	}
	x, err := b.Build(0)
	if err != nil {
		t.Fatal(err)
	}
	longest := func(n string) (Entry, bool) {
		if e, ok := want[n]; ok && e.ActiveAt(tIdx) {
			return e, true
		}
		for l := len(n); l >= 2; l-- {
			if e, ok := want[n[:l]+"*"]; ok && e.ActiveAt(tIdx) {
				return e, true
			}
		}
		return Entry{}, false
	}
	seq := uint64(0)
	for round := range 30 {
		var batch []Change
		n := 1 + rng.IntN(300)
		if round%10 == 9 {
			n = 5000 // enough to merge the delta into the base
		}
		for range n {
			seq++
			p := pattern()
			if rng.IntN(3) == 0 {
				batch = append(batch, Change{Seq: seq, Op: ChangeDelete, Entry: idxEntry(p, 0)})
				delete(want, p)
				continue
			}
			e := idxEntry(p, Category(1+rng.IntN(5)))
			if rng.IntN(4) == 0 {
				e.ExpireTime = tIdx.Add(time.Duration(rng.IntN(200)-100) * time.Minute)
			}
			batch = append(batch, Change{Seq: seq, Op: ChangePut, Entry: e})
			want[p] = e
		}
		x.Apply(batch...)
		if got := x.Len(); got != len(want) {
			t.Fatalf("round %d: Len = %d, want %d", round, got, len(want))
		}
		for range 3000 {
			n := digits(8 + rng.IntN(7))
			w, wok := longest(n)
			got, ok := x.Lookup(phone.Number(n), fixed(tIdx))
			if ok != wok || ok && (got.Pattern != w.Pattern || got.Category != w.Category || !got.ExpireTime.Equal(w.ExpireTime)) {
				t.Fatalf("round %d: Lookup(%s) = %+v %v, want %+v %v", round, n, got, ok, w, wok)
			}
		}
	}
}

// TestIndexDeletingEveryPrefixInOneMerge empties the prefix tables in a
// batch big enough to merge the delta away and to outgrow the prefix
// filter, which is then rebuilt over no keys at all: lookups must still
// work, and a new prefix must match.
func TestIndexDeletingEveryPrefixInOneMerge(t *testing.T) {
	t.Parallel()
	b := NewIndexBuilder(0)
	b.Add(idxEntry("+8617000042*", CategorySpam))
	b.Add(idxEntry("+8613800138000", CategoryScam))
	x, err := b.Build(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Lookup("+8617000042123", fixed(tIdx)); !ok {
		t.Fatal("prefix not matched before the deletes")
	}
	var batch []Change
	for i := range 5000 {
		p := fmt.Sprintf("+86170%05d*", i) // the one entry, and 4,999 that never were
		batch = append(batch, Change{Seq: uint64(i + 1), Op: ChangeDelete, Entry: idxEntry(p, 0)})
	}
	x.Apply(batch...)
	s := x.snap.Load()
	if s.base[11] != nil || s.delta[11] != nil {
		t.Fatalf("the prefix tables were not merged away: base %d, delta %d", s.base[11].len(), s.delta[11].len())
	}
	for _, n := range []phone.Number{"+8617000042123", "+8617000000000", "+8613800138001"} {
		if got, ok := x.Lookup(n, fixed(tIdx)); ok {
			t.Fatalf("after deleting every prefix, Lookup(%s) = %+v", n, got)
		}
	}
	if got, ok := x.Lookup("+8613800138000", fixed(tIdx)); !ok || got.Pattern != "+8613800138000" {
		t.Fatalf("the exact entry is gone: %+v %v", got, ok)
	}
	if x.Len() != 1 {
		t.Errorf("Len = %d, want 1", x.Len())
	}
	x.Apply(Change{Seq: 5001, Op: ChangePut, Entry: idxEntry("+86170000*", CategoryScam)})
	if got, ok := x.Lookup("+8617000042123", fixed(tIdx)); !ok || got.Pattern != "+86170000*" {
		t.Fatalf("after a new prefix: %+v %v", got, ok)
	}
}

// TestIndexExpiriesAllDifferent has more distinct expiries than the
// dictionary takes, so they are kept apart; each must still be exact.
func TestIndexExpiriesAllDifferent(t *testing.T) {
	t.Parallel()
	b := NewIndexBuilder(0)
	for i := range 20000 {
		e := idxEntry(fmt.Sprintf("+8613%09d", i*7919), CategoryScam)
		e.ExpireTime = tIdx.Add(time.Duration(i-10000) * time.Millisecond)
		b.Add(e)
	}
	x, err := b.Build(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		n := phone.Number(fmt.Sprintf("+8613%09d", i*7919))
		got, ok := x.Lookup(n, fixed(tIdx))
		if wantOK := i > 10000; ok != wantOK {
			t.Fatalf("Lookup(%s) active %v, want %v", n, ok, wantOK)
		}
		if ok && !got.ExpireTime.Equal(tIdx.Add(time.Duration(i-10000)*time.Millisecond)) {
			t.Fatalf("Lookup(%s) expires %v", n, got.ExpireTime)
		}
	}
}

func TestIndexLookupDoesNotAllocate(t *testing.T) {
	b := NewIndexBuilder(0)
	b.Add(idxEntry("+8613800138000", CategoryScam))
	b.Add(idxEntry("+861390*", CategorySpam))
	x, err := b.Build(0)
	if err != nil {
		t.Fatal(err)
	}
	svc := &Service{now: time.Now, index: x}
	for _, n := range []string{"+8613800138000", "+8613900000000", "+8613700000000"} {
		if a := testing.AllocsPerRun(100, func() { x.Lookup(phone.Number(n), time.Now) }); a != 0 {
			t.Errorf("Lookup(%s) allocates %v times", n, a)
		}
		if a := testing.AllocsPerRun(100, func() { svc.MatchString(n) }); a != 0 {
			t.Errorf("MatchString(%s) allocates %v times", n, a)
		}
	}
}
