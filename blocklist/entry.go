package blocklist

import (
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/callverify/callverify/internal/fault"
)

// Kind says how an entry's pattern matches. It is derived from the pattern.
type Kind uint8

const (
	KindUnspecified Kind = iota
	// KindExact matches one E.164 number.
	KindExact
	// KindPrefix matches every number that starts with the pattern's digits.
	KindPrefix
)

func (k Kind) String() string {
	switch k {
	case KindExact:
		return "ENTRY_KIND_EXACT"
	case KindPrefix:
		return "ENTRY_KIND_PREFIX"
	}
	return "ENTRY_KIND_UNSPECIFIED"
}

// Category is why a number is blocked. The values and names are those of the
// proto enum callverify.v1.Category, so adapters convert by value and the
// verify domain can show the name as it is.
type Category uint8

const (
	CategoryUnspecified Category = iota
	// CategoryImpersonation pretends to be the platform's customer service.
	CategoryImpersonation
	CategoryScam
	CategorySpam
	CategoryRobocall
	CategoryOther
)

var categoryNames = [...]string{
	"CATEGORY_UNSPECIFIED", "CATEGORY_IMPERSONATION", "CATEGORY_SCAM",
	"CATEGORY_SPAM", "CATEGORY_ROBOCALL", "CATEGORY_OTHER",
}

// String returns the proto enum name, e.g. "CATEGORY_SCAM".
func (c Category) String() string {
	if int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return "CATEGORY_UNSPECIFIED"
}

// Valid reports whether c is a settable category.
func (c Category) Valid() bool { return c >= CategoryImpersonation && c <= CategoryOther }

// Source says where an entry came from (proto enum callverify.v1.Source).
type Source uint8

const (
	SourceUnspecified Source = iota
	SourceAnalyst
	SourceCustomerReports
	SourceImport
)

var sourceNames = [...]string{"SOURCE_UNSPECIFIED", "SOURCE_ANALYST", "SOURCE_CUSTOMER_REPORTS", "SOURCE_IMPORT"}

// String returns the proto enum name, e.g. "SOURCE_IMPORT".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "SOURCE_UNSPECIFIED"
}

// Valid reports whether s is a settable source.
func (s Source) Valid() bool { return s >= SourceAnalyst && s <= SourceImport }

// Entry is one blocked number or prefix.
type Entry struct {
	ID string
	// Pattern is an E.164 number ("+8613800138000") or an E.164 prefix
	// followed by '*' ("+86170*"), always in this canonical form once stored.
	Pattern    string
	Kind       Kind
	Category   Category
	Reason     string
	Source     Source
	Confidence int // 0-100
	CreateBy   string
	CreateTime time.Time
	UpdateTime time.Time
	// ExpireTime is when the entry stops matching; zero for never.
	ExpireTime time.Time
	// Rev is the sequence number of the change that wrote this version. The
	// store sets it; UpdateEntry uses it to detect a concurrent change.
	Rev uint64
}

// ActiveAt reports whether the entry matches at t (it has not expired).
func (e Entry) ActiveAt(t time.Time) bool { return e.ExpireTime.IsZero() || t.Before(e.ExpireTime) }

func (e Entry) snapshot() map[string]any {
	m := map[string]any{
		"entry_id":   e.ID,
		"pattern":    e.Pattern,
		"kind":       e.Kind.String(),
		"category":   e.Category.String(),
		"reason":     e.Reason,
		"source":     e.Source.String(),
		"confidence": e.Confidence,
	}
	if !e.ExpireTime.IsZero() {
		m["expire_time"] = e.ExpireTime.UTC().Format(time.RFC3339)
	}
	return m
}

// SameContent reports whether e and o say the same thing: pattern, category,
// reason, source, confidence and expiry. Stores use it to leave an imported
// row that changes nothing untouched.
func (e Entry) SameContent(o Entry) bool {
	return e.Pattern == o.Pattern && e.Kind == o.Kind && e.Category == o.Category && e.Reason == o.Reason &&
		e.Source == o.Source && e.Confidence == o.Confidence && e.ExpireTime.Equal(o.ExpireTime)
}

const (
	maxReason = 500
	// maxPrefixDigits: a prefix of 15 digits would be a whole E.164 number.
	maxPrefixDigits = 14
	// minNationalPrefixDigits is how many digits after the country code a
	// prefix needs, so that a typo cannot block a whole country.
	minNationalPrefixDigits = 3
)

// callingCodes[cc] is true for every country calling code libphonenumber
// knows. Country codes are prefix-free, so the first match is the code.
var callingCodes = func() (t [1000]bool) {
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if cc > 0 && cc < 1000 {
			t[cc] = true
		}
	}
	return t
}()

// countryCodeLen returns the length of the calling code digits start with,
// or 0 when they start with none.
func countryCodeLen(digits string) int {
	cc := 0
	for i := 0; i < 3 && i < len(digits); i++ {
		cc = cc*10 + int(digits[i]-'0')
		if callingCodes[cc] {
			return i + 1
		}
	}
	return 0
}

// normalizePattern turns what an analyst typed into the canonical pattern
// and its kind. Exact numbers go through the phone parser (any written form
// is accepted); prefixes must be written with their country code.
func (s *Service) normalizePattern(raw string) (string, Kind, error) {
	t := strings.TrimSpace(raw)
	if !strings.HasSuffix(t, "*") {
		if t == "" {
			return "", 0, fault.Invalid("pattern", "is required")
		}
		n, err := s.parseNumber("pattern", t)
		if err != nil {
			return "", 0, err
		}
		return n.String(), KindExact, nil
	}
	body := strings.TrimSuffix(t, "*")
	if len(body) > 40 {
		return "", 0, fault.Invalid("pattern", "is too long")
	}
	var b strings.Builder
	for i, r := range body {
		switch {
		case r == '+' && i == 0:
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", 0, fault.Invalid("pattern", "prefix may hold only '+', digits and a final '*'")
		}
	}
	digits := b.String()
	if !strings.HasPrefix(body, "+") {
		return "", 0, fault.Invalid("pattern", "prefix must start with '+' and the country code, e.g. +86170*")
	}
	cc := countryCodeLen(digits)
	switch {
	case cc == 0:
		return "", 0, fault.Invalid("pattern", "prefix has an unknown country code")
	case len(digits) < cc+minNationalPrefixDigits:
		return "", 0, fault.Invalidf("pattern", "prefix must have at least %d digits after the country code", minNationalPrefixDigits)
	case len(digits) > maxPrefixDigits:
		return "", 0, fault.Invalidf("pattern", "prefix may have at most %d digits; block the whole number instead", maxPrefixDigits)
	}
	return "+" + digits + "*", KindPrefix, nil
}

// validateEntry checks and normalises the fields an analyst sets. It leaves
// identity, authorship and times other than expiry alone. newExpiry says
// that ExpireTime is being set now, and so must lie in the future.
func (s *Service) validateEntry(e Entry, now time.Time, newExpiry bool) (Entry, error) {
	return s.validateEntryWith(e, now, newExpiry, reasonField().Clean)
}

// validateEntryWith is validateEntry with the reason's text policy applied
// by cleanReason, which an import answers from memory for a text it has
// judged before.
func (s *Service) validateEntryWith(e Entry, now time.Time, newExpiry bool, cleanReason func(string) (string, error)) (Entry, error) {
	p, k, err := s.normalizePattern(e.Pattern)
	if err != nil {
		return Entry{}, err
	}
	e.Pattern, e.Kind = p, k
	if e.Reason, err = cleanReason(e.Reason); err != nil {
		return Entry{}, err
	}
	switch {
	case !e.Category.Valid():
		return Entry{}, fault.Invalid("category", "is required: one of CATEGORY_IMPERSONATION, CATEGORY_SCAM, CATEGORY_SPAM, CATEGORY_ROBOCALL, CATEGORY_OTHER")
	case !e.Source.Valid():
		return Entry{}, fault.Invalid("source", "must be SOURCE_ANALYST, SOURCE_CUSTOMER_REPORTS or SOURCE_IMPORT")
	case e.Confidence < 0 || e.Confidence > 100:
		return Entry{}, fault.Invalid("confidence", "must be between 0 and 100")
	case newExpiry && !e.ExpireTime.IsZero() && !e.ExpireTime.After(now):
		return Entry{}, fault.Invalid("expire_time", "must be in the future")
	}
	if !e.ExpireTime.IsZero() {
		e.ExpireTime = e.ExpireTime.UTC().Truncate(time.Millisecond)
	}
	return e, nil
}

// numberKey turns the digits of an E.164 number or prefix into an integer.
// E.164 digits never start with 0, so the integer and the digit count
// identify the digits. ok is false for anything but 1-15 ASCII digits.
func numberKey(digits string) (key uint64, ok bool) {
	if len(digits) == 0 || len(digits) > 15 || digits[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i] - '0'
		if c > 9 {
			return 0, false
		}
		key = key*10 + uint64(c)
	}
	return key, true
}

// patternKey returns the index slot of a canonical pattern: 0 for exact
// numbers, the digit count for prefixes.
func patternKey(pattern string) (slot int, key uint64, ok bool) {
	if len(pattern) < 2 || pattern[0] != '+' {
		return 0, 0, false
	}
	d := pattern[1:]
	if strings.HasSuffix(d, "*") {
		d = d[:len(d)-1]
		slot = len(d)
	}
	key, ok = numberKey(d)
	return slot, key, ok
}
