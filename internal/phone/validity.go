package phone

import (
	"regexp"
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// validity is phonenumbers.IsValidNumber for the numbers of one country
// calling code, with its patterns compiled once. The library builds each
// pattern's anchored text anew, looks it up in a locked cache and matches
// it twice for every description it tries (a dozen per number): that was
// most of an import's parsing. It gives the same answer by construction:
// the same metadata, the same anchored patterns, the same length checks,
// tried in the library's order (getNumberTypeHelper: a number is valid
// when it matches the general description and one of the types).
//
// The patterns are compiled into one digitDFA, which tells in a single
// pass over the number which of them match (a Chinese mobile number ran
// eleven regexps, China's large fixed-line pattern among them; 0.9 us
// then, 19 ns now). A code whose automaton would have more states than
// allowed keeps one regexp per pattern.
//
// The patterns of a code are compiled when a number of that code is first
// judged: compiling all codes' automata takes 55-70 ms (their regexps
// 25-45 ms), +86's 2 ms (its regexps 1.2). They then hold 455 KB of
// heap, about 11 KB of it +86's (the regexps held 6.4 MB).
type validity struct {
	md        *phonenumbers.PhoneMetadata
	maxStates int // for the automaton; 0: regexps only
	compile   sync.Once
	ok        bool // compiled, every description present

	// The automaton, when built: pattern 0 is the general description,
	// then the types in the library's order. byLength[n] holds the patterns whose
	// possible lengths allow n digits, anyLength those without a list
	// (n past the end of byLength allows only these).
	dfa       *digitDFA
	byLength  []patternMask
	anyLength patternMask

	// Otherwise the regexps.
	general numberDesc
	types   []numberDesc
}

// validityDFAStates bounds each calling code's automaton (the largest,
// +880's, has about 500 states; +86's about 480).
const validityDFAStates = 4096

type numberDesc struct {
	lengths []int32 // when not empty, the only possible lengths
	re      *regexp.Regexp
}

func (d *numberDesc) matches(national string) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(national))) {
		return false
	}
	return d.re.MatchString(national)
}

// decide says whether national (the national significant number, without
// leading zeros) is a valid number of the calling code; ok is false when
// the code's metadata is one the library must judge itself, or when the
// automaton judges the code and national is not all ASCII digits (the
// library only sees numbers).
func (v *validity) decide(national string) (valid, ok bool) {
	v.compile.Do(v.build)
	if !v.ok {
		return false, false
	}
	if v.dfa != nil {
		return v.validDFA(national)
	}
	return v.valid(national), true
}

func (v *validity) validDFA(national string) (valid, ok bool) {
	m, ok := v.dfa.match(national)
	if !ok {
		return false, false
	}
	if n := len(national); n < len(v.byLength) {
		m &= v.byLength[n]
	} else {
		m &= v.anyLength
	}
	const general = 1
	return m&general != 0 && m&^general != 0, true
}

func (v *validity) valid(national string) bool {
	if !v.general.matches(national) {
		return false
	}
	for i := range v.types {
		if v.types[i].matches(national) {
			return true
		}
	}
	return false
}

// validities builds a validity for every calling code whose numbers
// IsValidNumber judges against a single metadata: codes of exactly one
// region (or of one non-geographical entity). Codes shared by several
// regions (+1, +7, +44...) pick their region number by number and are
// left to the library, as is any code whose metadata lacks a description
// (the library would not reach the same code path).
//
// maxStates bounds each code's automaton; 0 keeps every code on regexps.
func validities(coll *phonenumbers.PhoneMetadataCollection, maxStates int) map[int]*validity {
	geo := map[string]*phonenumbers.PhoneMetadata{}
	nonGeo := map[int]*phonenumbers.PhoneMetadata{}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == "001" {
			nonGeo[int(md.GetCountryCode())] = md
		} else {
			geo[md.GetId()] = md
		}
	}
	out := map[int]*validity{}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		regions := phonenumbers.GetRegionCodesForCountryCode(cc)
		if len(regions) != 1 {
			continue
		}
		md := geo[regions[0]]
		if regions[0] == "001" {
			md = nonGeo[cc]
		}
		if md == nil || int(md.GetCountryCode()) != cc {
			continue
		}
		out[cc] = &validity{md: md, maxStates: maxStates}
	}
	return out
}

// build compiles v's patterns: into an automaton if it can, else into
// regexps. A pattern that does not compile leaves v to the library, which
// would panic on it as it does today.
func (v *validity) build() {
	md := v.md
	descs := []*phonenumbers.PhoneNumberDesc{
		md.GetGeneralDesc(), md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(), md.GetVoip(),
		md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(), md.GetFixedLine(),
	}
	// The library tries mobile only when its pattern differs from the
	// fixed line's: when they are the same, a number that is not a fixed
	// line is not a mobile either.
	if !md.GetSameMobileAndFixedLinePattern() {
		descs = append(descs, md.GetMobile())
	}
	if slices.Contains(descs, nil) {
		return
	}
	if v.maxStates > 0 && v.buildDFA(descs) {
		v.ok = true
		return
	}
	for i, d := range descs {
		re, err := regexp.Compile("^(?:" + d.GetNationalNumberPattern() + ")$")
		if err != nil {
			return
		}
		nd := numberDesc{lengths: slices.Clone(d.PossibleLength), re: re}
		if i == 0 {
			v.general = nd
		} else {
			v.types = append(v.types, nd)
		}
	}
	v.ok = true
}

// buildDFA compiles descs' patterns into one automaton, pattern i for
// descs[i], and their possible lengths into masks; false when the
// automaton cannot be built within v.maxStates.
func (v *validity) buildDFA(descs []*phonenumbers.PhoneNumberDesc) bool {
	patterns := make([]string, len(descs))
	for i, d := range descs {
		patterns[i] = d.GetNationalNumberPattern()
	}
	dfa, err := compileDigitDFA(patterns, v.maxStates)
	if err != nil {
		return false
	}
	longest := int32(0)
	for _, d := range descs {
		for _, n := range d.PossibleLength {
			longest = max(longest, n)
		}
	}
	byLength := make([]patternMask, longest+1)
	var anyLength patternMask
	for i, d := range descs {
		bit := patternMask(1) << i
		if len(d.PossibleLength) == 0 {
			anyLength |= bit
			continue
		}
		for _, n := range d.PossibleLength {
			if n >= 0 { // -1: the metadata's "no number has this type"
				byLength[n] |= bit
			}
		}
	}
	for n := range byLength {
		byLength[n] |= anyLength
	}
	v.dfa, v.byLength, v.anyLength = dfa, byLength, anyLength
	return true
}
