package phone

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"

	"github.com/callverify/callverify/internal/fault"
)

// DefaultRegion is callverify's default region for numbers written without
// a country code.
const DefaultRegion = "CN"

// MaxInputLength is the longest raw input, in characters, that Parse
// accepts. Anything longer is rejected before it reaches libphonenumber.
const MaxInputLength = 32

// maxE164Length is the longest E.164 string: '+' and at most 15 digits.
const maxE164Length = 16

// ErrInvalid is the error that every *InvalidError wraps, so callers can
// test for it with errors.Is.
var ErrInvalid = errors.New("invalid phone number")

// InvalidError is returned by Parser.Parse for input that is not an
// acceptable phone number. Reason completes the sentence "the phone number
// ..." (for example "is empty" or "contains letters"); it is meant to be
// shown to the client and never contains the input itself.
type InvalidError struct {
	Reason string
}

// Error returns "invalid phone number: " followed by the reason.
func (e *InvalidError) Error() string {
	if e == nil || e.Reason == "" {
		return ErrInvalid.Error()
	}
	return ErrInvalid.Error() + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(reason string) error { return &InvalidError{Reason: reason} }

// Reasons given by Parse. Those that depend on the region are built by
// functions below.
const (
	reasonEmpty          = "is empty"
	reasonTooLong        = "is too long"
	reasonTooShort       = "is too short"
	reasonLetters        = "contains letters"
	reasonBadChars       = "contains characters that are not allowed in a phone number"
	reasonBadUTF8        = "is not valid UTF-8 text"
	reasonNotANumber     = "is not a phone number"
	reasonUnknownCountry = "has an unknown country code"
	reasonNoCountry      = "has no country code and no default region is set"
	reasonExtension      = "has an extension, which is not supported"
)

// Number is an E.164 phone number such as "+8613800138000". The zero value
// is "no number".
//
// Numbers returned by Parser.Parse are always '+' followed by 1 to 15
// digits. A valid short number of the parser's region (a service number
// such as "95188" in China) is stored as the country code followed by the
// short number, e.g. "+8695188"; such a number is only meaningful inside
// that region.
type Number string

// String returns the E.164 form. Do not log it: use Masked.
func (n Number) String() string { return string(n) }

// Digits returns the E.164 form without the leading '+', which is the
// canonical telephone number (TN) form of RFC 8225, e.g. "8613800138000".
func (n Number) Digits() string { return strings.TrimPrefix(string(n), "+") }

// Masked returns a form of the number that is safe to log: the country
// code, the first national digits and the last national digits, with the
// middle replaced by "****" whatever its length, e.g. "+86138****8000"
// for "+8613800138000" and "+869****88" for "+8695188". At least a third
// of the national digits are always hidden. The zero Number masks to "".
// A Number that is not well-formed E.164 is masked with Mask.
func (n Number) Masked() string {
	s := string(n)
	if s == "" {
		return ""
	}
	if !isE164(s) {
		return Mask(s)
	}
	digits := s[1:]
	ccLen := countryCodeLength(digits)
	if ccLen == 0 || ccLen >= len(digits) {
		return Mask(s)
	}
	national := digits[ccLen:]
	head, tail := revealed(len(national))
	return "+" + digits[:ccLen] + national[:head] + "****" + national[len(national)-tail:]
}

// Mask masks, on a best-effort basis, any string that may contain a phone
// number, such as raw input that Parse rejected, so that it can be logged.
// If s has more than 4 digits, at least a third of them (and all but at
// most 7) are replaced by '*'; other characters are kept so that the shape
// of the input stays visible, except that non-printable characters become
// '?'. The result is cut to 64 characters.
func Mask(s string) string {
	const maxOut = 64
	total := 0
	for _, r := range s {
		if unicode.IsDigit(r) {
			total++
		}
	}
	head, tail := 0, 0
	if total <= 4 {
		head = total // few enough digits to keep them all
	} else {
		head, tail = revealed(total)
	}
	var b strings.Builder
	b.Grow(min(len(s), maxOut*utf8.UTFMax))
	i, out := 0, 0
	for _, r := range s {
		if out == maxOut {
			b.WriteString("…")
			break
		}
		switch {
		case unicode.IsDigit(r):
			if i < head || i >= total-tail {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
			i++
		case r == utf8.RuneError || !unicode.IsPrint(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
		out++
	}
	return b.String()
}

// revealed says how many leading and trailing digits of an n-digit number
// may be shown: at most 3 leading and 4 trailing, never more than
// n-ceil(n/3) in all, and at most half for numbers shorter than 5 digits.
func revealed(n int) (head, tail int) {
	budget := min(n-(n+2)/3, 7)
	if n < 5 {
		budget = n / 2
	}
	tail = min(budget-budget/3, 4)
	head = min(budget-tail, 3)
	return head, tail
}

// isE164 reports whether s is '+' followed by 1 to 15 ASCII digits.
func isE164(s string) bool {
	if len(s) < 2 || len(s) > maxE164Length || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// countryCodeLength returns the length of the country calling code that
// digits starts with, or 0 if it starts with none that libphonenumber
// knows. Country calling codes are 1 to 3 digits and prefix-free.
func countryCodeLength(digits string) int {
	known := phonenumbers.GetSupportedCallingCodes()
	for l := 1; l <= 3 && l <= len(digits); l++ {
		cc, err := strconv.Atoi(digits[:l])
		if err == nil && known[cc] {
			return l
		}
	}
	return 0
}

// Parser normalises numbers for one default region. It is safe for
// concurrent use. The zero Parser has no default region and so only accepts
// numbers written with a country code; use NewParser.
type Parser struct {
	region string
	// nationalPrefix holds, per country calling code, the anchored
	// national_prefix_for_parsing of the metadata phonenumbers.Parse uses
	// for that code (nil entry: the code has none). The fast path needs it
	// to know when Parse would strip a prefix; a nil map disables the fast
	// path.
	nationalPrefix map[int]*regexp.Regexp
	// valid holds, per country calling code judged against one metadata,
	// IsValidNumber with its patterns compiled (see validity).
	valid map[int]*validity
}

// NewParser returns a Parser whose default region is defaultRegion, a
// two-letter region code such as "CN" or "GB" (case-insensitive). It fails
// if libphonenumber does not know the region.
func NewParser(defaultRegion string) (*Parser, error) {
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if !phonenumbers.GetSupportedRegions()[region] {
		return nil, fmt.Errorf("phone: unknown region %q", defaultRegion)
	}
	np, err := nationalPrefixes()
	if err != nil {
		return nil, err
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, fmt.Errorf("phone: loading metadata: %w", err)
	}
	return &Parser{region: region, nationalPrefix: np, valid: validities(coll, validityDFAStates)}, nil
}

// nationalPrefixes compiles, for every country calling code, the
// national_prefix_for_parsing of the metadata phonenumbers.Parse reads
// after extracting that code: the main region of the code, or the
// non-geographical entity "001".
func nationalPrefixes() (map[int]*regexp.Regexp, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, fmt.Errorf("phone: loading metadata: %w", err)
	}
	byCode := make(map[int]*phonenumbers.PhoneMetadata)
	for _, md := range coll.GetMetadata() {
		cc := int(md.GetCountryCode())
		if md.GetId() == phonenumbers.GetRegionCodeForCountryCode(cc) {
			byCode[cc] = md
		}
	}
	out := make(map[int]*regexp.Regexp, len(byCode))
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		md, ok := byCode[cc]
		if !ok {
			return nil, fmt.Errorf("phone: no metadata for country code +%d", cc)
		}
		var re *regexp.Regexp
		if pat := md.GetNationalPrefixForParsing(); pat != "" {
			if re, err = regexp.Compile("^(?:" + pat + ")"); err != nil {
				return nil, fmt.Errorf("phone: national prefix of +%d: %w", cc, err)
			}
		}
		out[cc] = re
	}
	return out, nil
}

// Region returns the parser's default region, e.g. "CN".
func (p *Parser) Region() string { return p.region }

// Parse normalises raw to E.164. It accepts the common written forms of a
// number (spaces, dashes, dots, slashes, brackets, a leading '+' or the
// default region's international prefix such as "00", full-width and
// Arabic-Indic digits) and numbers without a country code, which are read
// as numbers of the default region.
//
// It returns an *InvalidError, which wraps ErrInvalid, if raw is empty, is
// longer than MaxInputLength characters, contains letters (vanity numbers
// and extensions are not accepted) or other characters that do not belong
// in a phone number, has an unknown country code, or is neither a valid
// number nor a valid short number of the default region according to
// libphonenumber.
func (p *Parser) Parse(raw string) (Number, error) {
	if n, ok := p.parseE164(raw); ok {
		return n, nil
	}
	return p.parseFull(raw)
}

// parseE164 is Parse for input already in canonical E.164 form, the form
// callverify stores and tokens carry, without phonenumbers.Parse's
// extraction work (its extension regexes alone are a third of a parse). It
// returns ok only when it can tell that Parse would return raw itself; in
// every other case, including every invalid number, it leaves the decision
// (and the error's reason) to parseFull. FuzzParseE164 holds the two to the
// same answer.
//
// For "+" and digits, phonenumbers.Parse extracts the first 1 to 3 digits
// that are a known country calling code, then strips a national prefix
// from the rest if the code's metadata has one that matches, and keeps a
// leading zero of the rest as an Italian leading zero. The fast path gives
// up on each of those turns rather than repeat them.
func (p *Parser) parseE164(raw string) (Number, bool) {
	if p.nationalPrefix == nil || !isE164(raw) {
		return "", false
	}
	digits := raw[1:]
	if len(digits) <= 2 || digits[0] == '0' { // too short after '+': Parse errs
		return "", false
	}
	cc, ccLen := 0, 0
	for l := 1; l <= 3 && l <= len(digits); l++ {
		c, _ := strconv.Atoi(digits[:l])
		if _, known := p.nationalPrefix[c]; known {
			cc, ccLen = c, l
			break
		}
	}
	if ccLen == 0 {
		return "", false
	}
	national := digits[ccLen:]
	if len(national) < 2 || national[0] == '0' {
		return "", false
	}
	if re := p.nationalPrefix[cc]; re != nil && re.MatchString(national) {
		return "", false
	}
	nn, err := strconv.ParseUint(national, 10, 64)
	if err != nil {
		return "", false
	}
	num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(nn)}
	// national has no leading zero: it is the national significant
	// number IsValidNumber would format from num.
	var valid, decided bool
	if v := p.valid[cc]; v != nil {
		valid, decided = v.decide(national)
	}
	if !decided {
		valid = phonenumbers.IsValidNumber(num)
	}
	if !valid &&
		(p.region == "" || !phonenumbers.IsValidShortNumberForRegion(num, p.region)) {
		return "", false
	}
	return Number(raw), true
}

// parseFull is Parse through phonenumbers.Parse, for any input.
func (p *Parser) parseFull(raw string) (Number, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid(reasonEmpty)
	}
	if utf8.RuneCountInString(s) > MaxInputLength {
		return "", invalid(reasonTooLong)
	}
	if reason := checkChars(s); reason != "" {
		return "", invalid(reason)
	}

	num, err := phonenumbers.Parse(s, p.region)
	if err != nil {
		return "", invalid(p.parseErrorReason(s, err))
	}
	if num.GetExtension() != "" {
		return "", invalid(reasonExtension)
	}
	if !phonenumbers.IsValidNumber(num) &&
		(p.region == "" || !phonenumbers.IsValidShortNumberForRegion(num, p.region)) {
		return "", invalid(invalidNumberReason(num))
	}

	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if !isE164(e164) {
		// Not expected for a number libphonenumber calls valid, but the
		// promise to callers is '+' and at most 15 digits.
		if len(e164) > maxE164Length {
			return "", invalid(reasonTooLong)
		}
		return "", invalid(reasonNotANumber)
	}
	return Number(e164), nil
}

// checkChars returns a reason if s contains anything but the digits and
// punctuation that people write phone numbers with, or "" if it does not.
func checkChars(s string) string {
	if !utf8.ValidString(s) {
		return reasonBadUTF8
	}
	letters, other := false, false
	for _, r := range s {
		switch {
		case isDigit(r), isPunct(r), unicode.IsSpace(r):
		case unicode.IsLetter(r):
			letters = true
		default:
			other = true
		}
	}
	switch {
	case letters:
		return reasonLetters
	case other:
		return reasonBadChars
	}
	return ""
}

// isDigit reports whether r is a digit that libphonenumber normalises:
// ASCII, full-width, Arabic-Indic or Extended Arabic-Indic.
func isDigit(r rune) bool {
	return '0' <= r && r <= '9' ||
		'０' <= r && r <= '９' ||
		'\u0660' <= r && r <= '\u0669' ||
		'\u06F0' <= r && r <= '\u06F9'
}

// isPunct reports whether r is one of the characters people write between
// the digits of a phone number: plus signs, dashes, brackets, dots,
// slashes, and invisible separators (in ASCII and full-width forms).
// libphonenumber treats a few more characters, such as '*', '#' and '~', as
// punctuation or extension marks; they are deliberately left out.
func isPunct(r rune) bool {
	switch r {
	case '+', '＋',
		'-', '‐', '‑', '‒', '–', '—', '―', '−', 'ー', '－',
		'(', ')', '（', '）', '[', ']', '［', '］',
		'.', '．', '/', '／',
		'\u00AD', '\u200B', '\u2060':
		return true
	}
	return false
}

// parseErrorReason turns an error from phonenumbers.Parse into a reason.
func (p *Parser) parseErrorReason(s string, err error) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		if p.region == "" && !strings.ContainsAny(s, "+＋") {
			return reasonNoCountry
		}
		return reasonUnknownCountry
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return reasonTooShort
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return reasonTooLong
	default:
		return reasonNotANumber
	}
}

// invalidNumberReason explains why libphonenumber does not consider num
// valid, naming the region (or country code) whose rules it broke.
func invalidNumberReason(num *phonenumbers.PhoneNumber) string {
	cc := int(num.GetCountryCode())
	where := "country code +" + strconv.Itoa(cc)
	if regions := phonenumbers.GetRegionCodesForCountryCode(cc); len(regions) == 1 && regions[0] != "001" {
		where = "region " + regions[0]
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return reasonUnknownCountry
	case phonenumbers.TOO_SHORT:
		return "is too short for " + where
	case phonenumbers.TOO_LONG:
		return "is too long for " + where
	default:
		return "is not a valid phone number for " + where
	}
}

// ParseField is Parse for the request field named field: a number it
// rejects becomes a fault.ErrInvalidArgument error whose message names the
// field and says why, e.g. "caller_number contains letters".
func (p *Parser) ParseField(field, raw string) (Number, error) {
	n, err := p.Parse(raw)
	if err != nil {
		var inv *InvalidError
		if errors.As(err, &inv) {
			return "", fault.Invalid(field, inv.Reason)
		}
		return "", fault.Invalid(field, "is not a valid phone number")
	}
	return n, nil
}
