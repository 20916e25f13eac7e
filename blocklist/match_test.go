package blocklist

import (
	"math/rand/v2"
	"testing"
)

// canonicalE164 is the plain statement of the fast path's test, which
// query.canonical computes from the digits already parsed.
func canonicalE164(raw string) bool {
	if len(raw) < 9 || len(raw) > 16 || raw[0] != '+' {
		return false
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	cc := countryCodeLen(raw[1:])
	return cc > 0 && raw[1+cc] != '0'
}

func TestQueryCanonicalAgreesWithCanonicalE164(t *testing.T) {
	t.Parallel()
	check := func(raw string) {
		t.Helper()
		q, isNum := parseQuery(raw)
		got := len(raw) >= 9 && isNum && q.canonical()
		if want := canonicalE164(raw); got != want {
			t.Fatalf("%q: fast path %v, canonicalE164 %v", raw, got, want)
		}
	}
	for _, raw := range []string{
		"+8613800138000", "+861380013800", "+12125550100", "+441632960000",
		"+0123456789", "+01234567890", "+8600138000", "+860138000000", "+999123456789",
		"+2125550100", "+21255501001234", "+8613800138000123", "+86138001380001", "+861380013800012",
		"+86 138001380", "8613800138000", "+86138001380a0", "", "+", "+8", "+86138001",
		"+8613800", "+1", "+3906123456", "+39061234567", "+97000000000",
	} {
		check(raw)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789+ a"
	for range 50_000 {
		b := []byte{'+'}
		for range rng.IntN(17) {
			c := byte('0' + rng.IntN(10))
			if rng.IntN(40) == 0 {
				c = alphabet[rng.IntN(len(alphabet))]
			}
			b = append(b, c)
		}
		check(string(b))
	}
}
