package phone

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
)

// TestDigitDFAMatchesRegexps holds compileDigitDFA to regexp.MatchString
// of the anchored patterns on every string of up to three digits, for
// patterns with what the metadata's patterns hardly use: assertions in
// the middle, multi-line anchors, classes and dots that match more than
// digits, empty and impossible patterns, case folding.
func TestDigitDFAMatchesRegexps(t *testing.T) {
	t.Parallel()
	patterns := []string{
		"", "NA", `\d{2,3}`, "1*", "(?:12|1)(?:23|3)", "[^5]", ".", `\D|1`, "(?i)1", "(?s).1",
		"1^", "^1", "1$2", "(?:1|$)", "(?:$|1)2?", "1$|2", "(?m)1$", "(?m)^1$|2(?m:$)", "$^", "(?:)$",
	}
	inputs := []string{""}
	for n := 1; n <= 3; n++ {
		for i := range pow10(n) {
			inputs = append(inputs, fmt.Sprintf("%0*d", n, i))
		}
	}
	matched := 0
	// Two automata of half the patterns each (a mask holds 16), and one
	// of a class that matches no character.
	for _, patterns := range [][]string{patterns[:len(patterns)/2], patterns[len(patterns)/2:], {`[^\x00-\x{10FFFF}]`}} {
		res := make([]*regexp.Regexp, len(patterns))
		for i, p := range patterns {
			res[i] = regexp.MustCompile("^(?:" + p + ")$")
		}
		d, err := compileDigitDFA(patterns, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs {
			got, ok := d.match(in)
			if !ok {
				t.Fatalf("match(%q): not ok for digits", in)
			}
			for i, re := range res {
				if want := re.MatchString(in); got&(1<<i) != 0 != want {
					t.Errorf("pattern %q on %q: automaton %v, regexp %v", patterns[i], in, !want, want)
				} else if want {
					matched++
				}
			}
		}
		if got, ok := d.match("1a"); ok || got != 0 {
			t.Errorf(`match("1a") = %v, %v; want 0, false (not digits)`, got, ok)
		}
	}
	if matched < 200 {
		t.Errorf("%d matches in all: the inputs miss what the patterns match", matched)
	}
}

// TestDigitDFARefuses checks what compileDigitDFA leaves to regexps.
func TestDigitDFARefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		patterns  []string
		maxStates int
		tooLarge  bool
	}{
		{"word boundary", []string{`1\b`}, 100, false},
		{"not a word boundary", []string{`1\B2`}, 100, false},
		{"does not compile", []string{`1(`}, 100, false},
		{"more states than allowed", []string{`\d{20}`}, 21, true},
		{"too many patterns", make([]string, maxDFAPatterns+1), 100, false},
	} {
		d, err := compileDigitDFA(tc.patterns, tc.maxStates)
		if d != nil || err == nil || errors.Is(err, errDFATooLarge) != tc.tooLarge {
			t.Errorf("%s: compileDigitDFA = %v, %v; want an error (errDFATooLarge: %v)", tc.name, d, err, tc.tooLarge)
		}
	}
	// The dead state, the start and one after each of 20 digits.
	if d, err := compileDigitDFA([]string{`\d{20}`}, 22); err != nil || d.states() != 22 {
		t.Errorf(`compileDigitDFA(\d{20}, 22) = %v; want 22 states`, err)
	}
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}
