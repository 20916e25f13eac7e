package blocklist

import (
	"github.com/callverify/callverify/internal/phone"
)

// Match returns the longest active blocklist entry that matches n, from the
// in-memory index (no store round trip). The entry carries Pattern, Kind,
// Category, Source, Confidence and ExpireTime; use CheckNumber for the whole
// stored entry.
func (s *Service) Match(n phone.Number) (Entry, bool) {
	return s.index.Lookup(n, s.now)
}

// MatchString is Match for a number as a client wrote it. Input already in
// canonical E.164 form ('+', a known country code, no trunk 0, at most 15
// digits: what clients and switches send) goes straight to the index; any
// other form goes through the phone parser first, which costs microseconds.
//
// The fast path does not ask libphonenumber whether the number is valid: a
// canonical-looking string that is no real number matches only when a
// blocked prefix covers it, which is the answer a fraud check wants. Callers
// that must reject invalid numbers parse them first and call Match.
func (s *Service) MatchString(raw string) (Entry, bool, error) {
	if canonicalE164(raw) {
		e, ok := s.index.Lookup(phone.Number(raw), s.now)
		return e, ok, nil
	}
	n, err := s.parseNumber("number", raw)
	if err != nil {
		return Entry{}, false, err
	}
	e, ok := s.index.Lookup(n, s.now)
	return e, ok, nil
}

// canonicalE164 reports whether raw is '+', a country code libphonenumber
// knows, and national digits that do not start with 0, 8 to 15 digits in
// all. For such input the parser returns raw itself whenever it accepts it.
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
