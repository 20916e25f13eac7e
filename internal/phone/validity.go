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
// The patterns of a code are compiled when a number of that code is first
// judged: compiling all of them costs a parser 90 ms.
type validity struct {
	md      *phonenumbers.PhoneMetadata
	compile sync.Once
	ok      bool // compiled, every description present
	general numberDesc
	types   []numberDesc
}

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
// the code's metadata is one the library must judge itself.
func (v *validity) decide(national string) (valid, ok bool) {
	v.compile.Do(v.build)
	if !v.ok {
		return false, false
	}
	return v.valid(national), true
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
func validities(coll *phonenumbers.PhoneMetadataCollection) map[int]*validity {
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
		out[cc] = &validity{md: md}
	}
	return out
}

// build compiles v's patterns. A pattern that does not compile leaves v
// to the library, which would panic on it as it does today.
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
	for i, d := range descs {
		if d == nil {
			return
		}
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
