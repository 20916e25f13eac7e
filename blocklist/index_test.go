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
	num := func() string { return fmt.Sprintf("+86138%08d", rng.IntN(20000)) }
	want := map[string]Entry{}
	b := NewIndexBuilder(0)
	for range 5000 {
		e := idxEntry(num(), Category(1+rng.IntN(5)))
		if rng.IntN(4) == 0 {
			e.ExpireTime = tIdx.Add(time.Duration(rng.IntN(200)-100) * time.Minute)
		}
		want[e.Pattern] = e
	}
	for _, e := range want {
		b.Add(e)
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
			p := num()
			if rng.IntN(3) == 0 {
				batch = append(batch, Change{Seq: seq, Op: ChangeDelete, Entry: idxEntry(p, 0)})
				delete(want, p)
				continue
			}
			e := idxEntry(p, Category(1+rng.IntN(5)))
			e.Confidence = rng.IntN(101)
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
		for i := range 20000 {
			p := fmt.Sprintf("+86138%08d", i)
			w, inMap := want[p]
			wantHit := inMap && w.ActiveAt(tIdx)
			got, ok := x.Lookup(phone.Number(p), fixed(tIdx))
			if ok != wantHit {
				t.Fatalf("round %d: Lookup(%s) ok=%v, want %v", round, p, ok, wantHit)
			}
			if ok && (got.Category != w.Category || got.Confidence != w.Confidence || !got.ExpireTime.Equal(w.ExpireTime)) {
				t.Fatalf("round %d: Lookup(%s) = %+v, want %+v", round, p, got, w)
			}
		}
	}
}
