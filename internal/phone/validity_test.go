package phone

import (
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// libraryValid is what validity replaces: phonenumbers.IsValidNumber of
// +cc national.
func libraryValid(cc int, national string) bool {
	nn, err := strconv.ParseUint(national, 10, 64)
	if err != nil {
		return false
	}
	return phonenumbers.IsValidNumber(&phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(nn)})
}

// nearMisses are national numbers around example: itself, one digit
// shorter and one longer.
func nearMisses(example string) []string {
	if example == "" {
		return nil
	}
	return []string{example, example[:len(example)-1], example + "5"}
}

// TestValidityAgreesWithRegexpsAndTheLibrary checks, for every calling
// code validities cover, that the code's patterns fit in an automaton and
// that the automaton decides as the code's regexps do, on each
// description's example number and on near misses of it (digitNearMisses:
// 6k numbers). For +86 and a third of the other codes it also checks the
// automaton against phonenumbers.IsValidNumber on the example, one digit
// less and one more, valid and not (compiling every code's patterns in
// the library is most of that part's cost under -race; FuzzValidity
// reaches every code). It reports the size of the automata.
func TestValidityAgreesWithRegexpsAndTheLibrary(t *testing.T) {
	t.Parallel()
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	dfas, res := validities(coll, validityDFAStates), validities(coll, 0)
	if dfas[86] == nil || dfas[44] != nil || dfas[1] != nil {
		t.Fatalf("validities cover +86: %v, +44: %v, +1: %v; want +86 only (+44 and +1 are shared by regions)",
			dfas[86] != nil, dfas[44] != nil, dfas[1] != nil)
	}
	var checked, valid, libChecked, libValid, tableBytes int
	for _, md := range coll.GetMetadata() {
		cc := int(md.GetCountryCode())
		v, re := dfas[cc], res[cc]
		if v == nil || md.GetId() != phonenumbers.GetRegionCodeForCountryCode(cc) {
			continue
		}
		if _, ok := v.decide("1"); !ok || v.dfa == nil {
			t.Errorf("+%d: no automaton (over %d states?): every code fits now, so a change of metadata or of compileDigitDFA did this",
				cc, validityDFAStates)
			continue
		}
		if re.decide("1"); re.dfa != nil {
			t.Fatalf("+%d: validities(coll, 0) built an automaton", cc)
		}
		tableBytes += v.dfa.tableBytes()
		if cc == 86 {
			t.Logf("+86: %d states, %d bytes of tables", v.dfa.states(), v.dfa.tableBytes())
		}
		for _, d := range []*phonenumbers.PhoneNumberDesc{md.GetGeneralDesc(), md.GetFixedLine(), md.GetMobile(),
			md.GetTollFree(), md.GetPremiumRate(), md.GetSharedCost(), md.GetVoip(), md.GetPersonalNumber(),
			md.GetPager(), md.GetUan(), md.GetVoicemail()} {
			for _, national := range digitNearMisses(d.GetExampleNumber()) {
				got, ok := v.decide(national)
				want, reOK := re.decide(national)
				if !ok || !reOK || got != want {
					t.Errorf("+%d %s: automaton = %v, %v; regexps = %v, %v", cc, national, got, ok, want, reOK)
				}
				checked++
				if got {
					valid++
				}
			}
			if cc != 86 && cc%3 != 0 {
				continue
			}
			for _, national := range nearMisses(d.GetExampleNumber()) {
				if national == "" || national[0] == '0' {
					continue
				}
				got, ok := v.decide(national)
				if want := libraryValid(cc, national); !ok || got != want {
					t.Errorf("+%d %s: decide = %v, %v; IsValidNumber = %v", cc, national, got, ok, want)
				}
				libChecked++
				if got {
					libValid++
				}
			}
		}
	}
	t.Logf("%d codes' automata: %d bytes of tables; %d numbers checked against regexps (%d valid), %d against the library (%d valid)",
		len(dfas), tableBytes, checked, valid, libChecked, libValid)
	if checked < 5000 || valid < checked/5 || valid > checked*4/5 {
		t.Errorf("checked %d numbers against regexps, %d of them valid: want 5000 or more, valid and invalid both", checked, valid)
	}
	if libChecked < 200 || libValid < libChecked/4 || libValid > libChecked*3/4 {
		t.Errorf("checked %d numbers against the library, %d of them valid: want 200 or more, valid and invalid both", libChecked, libValid)
	}
}

// digitNearMisses are example, it one and two digits shorter and one
// longer, and it with its first, middle or last digit replaced by the next
// (9 by 0).
func digitNearMisses(example string) []string {
	if len(example) < 2 {
		return nil
	}
	out := []string{example, example[:len(example)-1], example[:len(example)-2], example + "5"}
	for _, i := range []int{0, len(example) / 2, len(example) - 1} {
		b := []byte(example)
		b[i] = '0' + (b[i]-'0'+1)%10
		out = append(out, string(b))
	}
	return out
}

// FuzzValidity holds validity to phonenumbers.IsValidNumber for any
// national number of any calling code it covers.
func FuzzValidity(f *testing.F) {
	f.Add(86, "13800138000")
	f.Add(86, "95188")
	f.Add(33, "612345678")
	f.Add(49, "30123456")
	f.Add(800, "12345678")
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		f.Fatal(err)
	}
	vs := validities(coll, validityDFAStates)
	f.Fuzz(func(t *testing.T, cc int, in string) {
		v := vs[cc]
		national := asciiDigits(in, 17)
		if v == nil || national == "" || national[0] == '0' {
			return
		}
		if got, ok := v.decide(national); ok && got != libraryValid(cc, national) {
			t.Fatalf("+%d %s: decide = %v, IsValidNumber = %v", cc, national, got, !got)
		}
	})
}

// FuzzValidityAutomaton holds each calling code's automaton to its
// regexps for any string of up to 20 digits (past the 17 a national number
// may have, too), leading zeros and the empty string included, and checks
// that input with any other byte is left to the library. A cc that
// validities do not cover picks one of the codes they do.
func FuzzValidityAutomaton(f *testing.F) {
	f.Add(86, "13800138000")
	f.Add(86, "1012345678")
	f.Add(86, "075512345678")
	f.Add(33, "612345678")
	f.Add(49, "30123456")
	f.Add(800, "12345678")
	f.Add(-1, "")
	f.Add(7, "8(800)555-35-35")
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		f.Fatal(err)
	}
	dfas, res := validities(coll, validityDFAStates), validities(coll, 0)
	codes := slices.Sorted(maps.Keys(dfas))
	f.Fuzz(func(t *testing.T, cc int, in string) {
		if dfas[cc] == nil {
			cc = codes[uint(cc)%uint(len(codes))]
		}
		v, re := dfas[cc], res[cc]
		national := asciiDigits(in, 20)
		got, ok := v.decide(national)
		want, reOK := re.decide(national)
		if !ok || !reOK || got != want {
			t.Fatalf("+%d %q: automaton = %v, %v; regexps = %v, %v", cc, national, got, ok, want, reOK)
		}
		if len(in) > 40 || asciiDigits(in, len(in)) == in {
			return
		}
		if got, ok := v.decide(in); ok {
			t.Fatalf("+%d %q: automaton = %v, %v for input that is not all digits; want it left to the library", cc, in, got, ok)
		}
	})
}

// BenchmarkValidity measures one decide, patterns already compiled, for
// Chinese mobile and fixed-line numbers (the fixed-line pattern is China's
// largest), a Chinese number that is not valid, and mobile numbers of a few
// other countries.
//
//	go test -run '^$' -bench Validity -benchmem ./internal/phone/
func BenchmarkValidity(b *testing.B) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		b.Fatal(err)
	}
	vs := validities(coll, validityDFAStates)
	for _, bc := range []struct {
		name     string
		cc       int
		national string
		want     bool
	}{
		{"CN/mobile", 86, "13800138000", true},
		{"CN/fixed-Beijing", 86, "1012345678", true},
		{"CN/fixed-Shenzhen", 86, "75512345678", true},
		{"CN/invalid", 86, "12345678901", false},
		{"DE/mobile", 49, "15123456789", true},
		{"FR/mobile", 33, "612345678", true},
		{"IN/mobile", 91, "8123456789", true},
		{"JP/mobile", 81, "9012345678", true},
		{"BR/mobile", 55, "11961234567", true},
	} {
		v := vs[bc.cc]
		if got, ok := v.decide(bc.national); !ok || got != bc.want || got != libraryValid(bc.cc, bc.national) {
			b.Fatalf("+%d %s: decide = %v, %v; want %v, true", bc.cc, bc.national, got, ok, bc.want)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.decide(bc.national)
			}
		})
	}
}
