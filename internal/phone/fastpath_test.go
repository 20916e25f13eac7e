package phone

import (
	"errors"
	"testing"
)

// e164Seeds are canonical E.164 strings and near misses for the fast path:
// mobiles, landlines and service numbers of several regions, numbers with
// a national prefix or an Italian leading zero after the country code,
// non-geographical codes, unknown codes, and numbers too short or too long.
var e164Seeds = []string{
	"+8613800138000", "+8695188", "+8610086", "+86110", "+864008008888", "+868008208820",
	"+861012345678", "+8601012345678", "+86013800138000", "+8611", "+861", "+86",
	"+8612593123456", "+8617951138000", "+8611213800138", "+861790113800",
	"+442079460000", "+447911123456", "+4402079460000", "+44999", "+44116123",
	"+12025550143", "+112025550143", "+18005550199", "+1911", "+12",
	"+390612345678", "+393123456789", "+39061234", "+4930123456", "+49301",
	"+61212345678", "+610212345678", "+5491123456789", "+541123456789", "+5215512345678",
	"+525512345678", "+79161234567", "+78001234567", "+8108012345678", "+819012345678",
	"+80012345678", "+870123456789", "+882123456789", "+883123456789012", "+979123456789",
	"+999123456", "+0", "+00", "+000861380013800", "+123456789012345", "+1234567890123456",
	"+", "+1", "+7", "+77", "+777", "+2", "+21", "+212", "+2125",
}

// FuzzParseE164 holds the canonical E.164 fast path to the full parse:
// whenever parseE164 decides, parseFull must give the same Number, and
// Parse (fast path first) must give exactly what parseFull gives, number or
// reason, for every input and several default regions.
func FuzzParseE164(f *testing.F) {
	for _, s := range e164Seeds {
		f.Add(s)
	}
	for _, tc := range validCases {
		f.Add(tc.in)
	}
	for _, tc := range invalidCases {
		f.Add(tc.in)
	}
	var parsers []*Parser
	for _, region := range []string{DefaultRegion, "GB", "US", "IT", "AR", "RU"} {
		p, err := NewParser(region)
		if err != nil {
			f.Fatal(err)
		}
		parsers = append(parsers, p)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// Random strings rarely are '+' and digits: also try the input's
		// ASCII digits in that form, so that every run reaches the fast path.
		for _, raw := range []string{in, "+" + asciiDigits(in, maxE164Length-1)} {
			compareWithFull(t, parsers, raw)
		}
	})
}

func compareWithFull(t *testing.T, parsers []*Parser, raw string) {
	t.Helper()
	for _, p := range parsers {
		full, fullErr := p.parseFull(raw)
		if fast, ok := p.parseE164(raw); ok && (fullErr != nil || fast != full) {
			t.Fatalf("%s: parseE164(%q) = %q, but parseFull = %q, %v", p.Region(), raw, fast, full, fullErr)
		}
		got, err := p.Parse(raw)
		if got != full || reasonOf(err) != reasonOf(fullErr) {
			t.Fatalf("%s: Parse(%q) = %q, %v; parseFull = %q, %v", p.Region(), raw, got, err, full, fullErr)
		}
	}
}

// asciiDigits returns the first max ASCII digits of s.
func asciiDigits(s string, max int) string {
	b := make([]byte, 0, max)
	for i := 0; i < len(s) && len(b) < max; i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	var ie *InvalidError
	if !errors.As(err, &ie) {
		return "not an *InvalidError: " + err.Error()
	}
	return ie.Reason
}

// TestParseE164DecidesCanonicalNumbers checks that the fast path actually
// takes the forms the service stores (and so that the fuzz test compares
// something), and leaves the hard turns to the full parse.
func TestParseE164DecidesCanonicalNumbers(t *testing.T) {
	t.Parallel()
	p, err := NewParser(DefaultRegion)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in     string
		decide bool
	}{
		{"+8613800138000", true},
		{"+864008008888", true},
		{"+8695188", true},      // a CN short number, valid only for CN
		{"+442079460000", true}, // another region
		{"+12025550143", true},
		{"+861012345678", true},
		{"+8601012345678", false}, // national prefix after the code: Parse strips it
		{"+390612345678", false},  // Italian leading zero
		{"+8612345", false},       // invalid: the full parse gives the reason
		{"+999123456", false},     // unknown country code
		{" +8613800138000", false},
		{"+86 138 0013 8000", false},
	} {
		n, ok := p.parseE164(tc.in)
		if got, want := ok, tc.decide; got != want {
			t.Errorf("parseE164(%q) decides = %v, want %v", tc.in, got, want)
			continue
		}
		if ok && n != Number(tc.in) {
			t.Errorf("parseE164(%q) = %q, want the input", tc.in, n)
		}
	}
}
