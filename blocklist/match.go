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
func (s *Service) MatchString(raw string) (e Entry, ok bool, err error) {
	if len(raw) >= 9 {
		// One pass over the digits serves both the canonical check and
		// the lookup.
		if q, isNum := parseQuery(raw); isNum && q.canonical() {
			if raw[1] == '0' {
				return e, false, nil // no E.164 number starts with 0
			}
			m, ok := s.index.snap.Load().lookup(q, s.now)
			if ok {
				m.fill(&e)
			}
			return e, ok, nil
		}
	}
	n, err := s.parseNumber("number", raw)
	if err != nil {
		return Entry{}, false, err
	}
	e, ok = s.index.Lookup(n, s.now)
	return e, ok, nil
}

// canonical reports whether the parsed number is '+', a country code
// libphonenumber knows, and national digits that do not start with 0, 8 to
// 15 digits in all. For such input the parser returns the input itself
// whenever it accepts it. The country code is found as countryCodeLen
// finds it, on a string already known to be '+' and digits.
func (q query) canonical() bool {
	if q.nd < 8 {
		return false
	}
	d := q.str[1:4]
	cc := uint(d[0] - '0')
	switch {
	case callingCodes[cc]:
		return d[1] != '0'
	case callingCodes[cc*10+uint(d[1]-'0')]:
		return d[2] != '0'
	case callingCodes[cc*100+uint(d[1]-'0')*10+uint(d[2]-'0')]:
		return q.str[4] != '0'
	}
	return false
}
