package verify

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// parseNumber normalises a number from the request field named field.
func (s *Service) parseNumber(field, raw string) (phone.Number, error) {
	return s.phone.ParseField(field, raw)
}

// checkText validates a free-text field: valid UTF-8, at most max
// characters, no control or invisible formatting characters (they can hide
// text or reorder what a screen shows).
func checkText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", fault.Invalid(field, "is required")
		}
		return "", nil
	}
	if !utf8.ValidString(s) {
		return "", fault.Invalid(field, "is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", fault.Invalidf(field, "is longer than %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", fault.Invalid(field, "contains control or invisible characters")
		}
	}
	return s, nil
}

// looksLikeLink reports whether s contains anything a screen or a person
// could take for a link: a scheme, "www.", or text shaped like a domain
// name ("example.com", "evil.cn/x", "pay。com" with a full-width dot) or an
// IPv4 address. False positives such as "Mr.Smith" are the price of never
// letting a dialer put a link in front of a customer.
func looksLikeLink(s string) bool {
	// NFKC folds full-width and other compatibility forms ("ｐａｙ．ｃｏｍ")
	// to the plain letters they look like.
	l := strings.ToLower(norm.NFKC.String(s))
	if strings.Contains(l, "http") || strings.Contains(l, "www") || strings.Contains(l, "://") {
		return true
	}
	l = dodgedDots.Replace(l)
	rs := []rune(l)
	for i, r := range rs {
		if r != '.' || i == 0 {
			continue
		}
		prev := rs[i-1]
		if !isHostChar(prev) {
			continue
		}
		// At least two letters after the dot, then the end or a character
		// that cannot continue a host name: a top-level domain.
		j := i + 1
		for j < len(rs) && rs[j] < utf8.RuneSelf && unicode.IsLetter(rs[j]) {
			j++
		}
		if j-(i+1) >= 2 && (j == len(rs) || !isHostChar(rs[j])) {
			return true
		}
	}
	// Four dotted groups of digits: an IPv4 address.
	for _, f := range strings.FieldsFunc(l, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }) {
		parts := strings.Split(f, ".")
		if len(parts) < 4 {
			continue
		}
		run := 0
		for _, p := range parts {
			if p != "" && len(p) <= 3 {
				run++
				if run == 4 {
					return true
				}
			} else {
				run = 0
			}
		}
	}
	return false
}

// dodgedDots normalises the dots people use to dodge link filters.
var dodgedDots = strings.NewReplacer("。", ".", "．", ".", "｡", ".", "·", ".", " dot ", ".", "[.]", ".", "(.)", ".")

func isHostChar(r rune) bool {
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')
}
