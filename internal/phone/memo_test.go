package phone

import (
	"errors"
	"strconv"
	"testing"
)

func TestMemoAnswersLikeParseAndStaysBounded(t *testing.T) {
	t.Parallel()
	p, err := NewParser(DefaultRegion)
	if err != nil {
		t.Fatal(err)
	}
	const size = 4
	m := NewMemo(p, size)
	for _, raw := range []string{"+8613800138000", "138 0013 8000", "+8613800138000", "+864008008888"} {
		got, err := m.Parse(raw)
		want, wantErr := p.Parse(raw)
		if got != want || err != wantErr {
			t.Fatalf("Memo.Parse(%q) = %q, %v; Parse = %q, %v", raw, got, err, want, wantErr)
		}
	}
	if got, want := m.Len(), 3; got != want {
		t.Fatalf("Len() = %d after three distinct inputs, want %d", got, want)
	}
	if _, err := m.Parse("12345"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Memo.Parse(12345) error = %v, want ErrInvalid", err)
	}
	if got, want := m.Len(), 3; got != want {
		t.Fatalf("Len() = %d after an invalid input, want %d (errors are not remembered)", got, want)
	}
	for i := range 20 {
		raw := "+86138001380" + strconv.Itoa(10+i)
		if _, err := m.Parse(raw); err != nil {
			t.Fatalf("Memo.Parse(%q): %v", raw, err)
		}
		if got := m.Len(); got > size {
			t.Fatalf("Len() = %d, more than the size %d", got, size)
		}
	}
	if got, want := m.Len(), size; got != want {
		t.Fatalf("Len() = %d when full, want %d", got, want)
	}
}
