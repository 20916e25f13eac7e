package text_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/callverify/callverify/internal/text"
)

// FuzzClean: the policy never panics, and what it lets through is trimmed,
// bounded, valid UTF-8 without controls, and passes again unchanged.
func FuzzClean(f *testing.F) {
	for _, s := range append(append([]string{}, hostile...), benign...) {
		f.Add(s, false)
	}
	f.Add("a\r\nb", true)
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		fl := text.Field{Name: "f", Max: 64, Multiline: multiline}
		got, err := fl.Clean(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 64 || got != strings.TrimSpace(got) {
			t.Fatalf("Clean(%q) = %q", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) && !(multiline && r == '\n') || unicode.Is(unicode.Cf, r) {
				t.Fatalf("Clean(%q) = %q keeps %U", s, got, r)
			}
		}
		if again, err := fl.Clean(got); err != nil || again != got {
			t.Fatalf("Clean(%q) = %q, %v; not stable", got, again, err)
		}
	})
}
