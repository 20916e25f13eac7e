package text

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"
)

// LooksLikeLink reports whether s holds anything a screen could make
// clickable or a person could type into a browser: a scheme ("https://",
// "mailto:"), "www", punycode ("xn--"), an IPv4 address, or a host name
// ending in a top-level domain, in any script and however it is dressed
// up: full-width or other compatibility forms ("ｐａｙ．ｃｏｍ"), look-alike
// dots ("pay。com", "pay‧com", "pay⸱com"), spelled-out dots ("pay (dot) com",
// "pay[.]com", "pay dot com", "pay点com"), spaces around the dot
// ("pay . com"), IDN top-level domains ("示例.中国", "пример.рф") and Cyrillic
// or Greek letters that look Latin ("pay.сом").
//
// A top-level domain is one that exists: the ICANN section of the Public
// Suffix List (golang.org/x/net/publicsuffix). A fraudster's link has to
// resolve, so this misses no working link, and it keeps everyday text such
// as "Mr.Smith", "v2.0 update", "3.5 kg" or "约翰·史密斯" clear. What it
// still refuses is text that reads like a domain: "Co.Ltd" (.ltd exists),
// "done.It" with no space after the full stop (.it).
func LooksLikeLink(s string) bool {
	// NFKC folds full-width, circled, mathematical and other compatibility
	// forms to the plain letters, digits and dots they look like.
	l := strings.ToLower(norm.NFKC.String(s))
	for _, w := range linkWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	l = bracketedDot.ReplaceAllString(l, ".")
	l = glued.ReplaceAllString(l, ".$1")
	l = spacedWordDot.ReplaceAllString(l, ".")
	rs := []rune(l)
	for i, r := range rs {
		if weak, ok := dotKind(r); ok && domainAt(rs, i, weak) {
			return true
		}
	}
	return hasIPv4(rs)
}

// linkWords are substrings that only links contain, in practice.
var linkWords = []string{"http", "www", "://", "xn--", "mailto:", "javascript:"}

// Spelled-out dots, matched on lower-case text: "(dot)", "[.]", "{点}",
// " dot ", " 点 ", and "dot"/"点" glued to a common top-level domain
// ("example点com", "exampledotcn"). "点" alone is everyday Chinese ("三点",
// "点击"), so only those forms count.
var (
	bracketedDot  = regexp.MustCompile(`[(\[{<]\s*(?:dot|点|點|\.|。)\s*[)\]}>]`)
	glued         = regexp.MustCompile(`(?:dot|点|點)\s*(com|cn|net|org)\b`)
	spacedWordDot = regexp.MustCompile(`\s+(?:dot|点|點)\s+`)
)

// dotKind reports whether r stands for a dot in a host name, and whether
// it is a "weak" one: also ordinary punctuation in CJK text (the
// ideographic full stop, the middle dots between the parts of a name), where
// what follows is only a top-level domain when it is one as a whole word.
// NFKC has already folded U+FF0E, U+FE52, U+2024 to '.', U+FF61 and U+FE12
// to U+3002, U+FF65 to U+30FB and U+0387 to U+00B7.
func dotKind(r rune) (weak, ok bool) {
	switch r {
	case '.', '\u2027', '\u2e31', '\u2e33', '\u2e3c', '\u2022', '\u2219', '\u22c5', '\u2981',
		'\u06d4', '\u0589', '\u0701', '\u0702', '\u1362', '\u1427', '\u16eb', '\ua4ff', '\ua60e', '\U00010101',
		// The rest of Unicode's confusables of "." (confusables.txt).
		'\ua4f8', '\U00010a50', '\U0001d16d':
		return false, true
	case '\u3002', '\u00b7', '\u30fb', '\ua78f':
		return true, true
	case '\u0660', '\u06f0':
		// Arabic-Indic zeros are drawn as a dot, and are digits: see
		// digitDot.
		return true, true
	}
	return false, false
}

// digitDot reports a dot look-alike that is a digit (the Arabic-Indic
// zeros): a dot only after an ASCII name ("pay٠com"), never inside Arabic
// or Persian numbers and words ("۱۰۰", "۲۰ایران").
func digitDot(r rune) bool { return r == '\u0660' || r == '\u06f0' }

// sentenceTLDs are the top-level domains still taken for a link after a
// dot followed by a space ("example. com"). Any other word there is more
// likely the next sentence ("Done. It is refunded.", "Paid. Top up ...").
var sentenceTLDs = map[string]bool{"com": true, "cn": true, "org": true, "xyz": true, "cc": true, "biz": true, "ru": true}

// domainAt reports whether the dot at rs[i] joins a host label to a
// top-level domain.
func domainAt(rs []rune, i int, weak bool) bool {
	p := i - 1
	for p >= 0 && unicode.IsSpace(rs[p]) {
		p--
	}
	if p < 0 || !isHostRune(rs[p]) || (digitDot(rs[i]) && !asciiLabelBefore(rs, p)) {
		return false
	}
	q := i + 1
	for q < len(rs) && unicode.IsSpace(rs[q]) {
		q++
	}
	spaceBefore, spaceAfter := p < i-1, q > i+1

	// An ASCII top-level domain, as a whole word: "pay.com", "pay.com/x",
	// "pay.com退款", but not "No.ABC123". After CJK punctuation only when
	// an ASCII name comes before it ("pay。com"), so that "已发货。App内可查看"
	// or "京东·App" stay clear.
	j := q
	for j < len(rs) && isASCIILetter(rs[j]) {
		j++
	}
	if j-q >= 2 && (j == len(rs) || !isASCIIHost(rs[j])) && (!weak || asciiLabelBefore(rs, p)) {
		tld := string(rs[q:j])
		if spaceAfter && !spaceBefore {
			if sentenceTLDs[tld] {
				return true
			}
		} else if isTLD(tld) {
			return true
		}
	}
	if spaceAfter && !spaceBefore {
		return false
	}

	// The whole word after the dot, any script.
	j = q
	for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsMark(rs[j])) {
		j++
	}
	word := rs[q:j]
	if len(word) > 0 && !isASCII(word) && (j == len(rs) || !unicode.IsDigit(rs[j])) {
		// An IDN top-level domain: "示例.中国", "пример.рф".
		if isTLD(string(word)) {
			return true
		}
		// Latin look-alikes: "pay.сом" with Cyrillic letters.
		if sk, ok := skeleton(word); ok && len(sk) >= 2 && isTLD(sk) {
			return true
		}
	}
	if weak || !asciiLabelBefore(rs, p) {
		return false
	}
	// CJK has no spaces between words, so after a plain dot the top-level
	// domain may run into the next word: "pay.中国请登录". Only after an
	// ASCII name, so that a numbered list ("1.公司将…") or a Chinese
	// sentence with a Latin full stop stays clear.
	k := q
	for k < j && k-q < 12 && rs[k] >= utf8.RuneSelf && unicode.IsLetter(rs[k]) {
		k++
		if k-q >= 2 && isTLD(string(rs[q:k])) {
			return true
		}
	}
	return false
}

// asciiLabelBefore reports whether the host label ending at rs[p] is
// ASCII with at least one letter ("pay", "pay-2", not "1" or "订单").
func asciiLabelBefore(rs []rune, p int) bool {
	letter := false
	for ; p >= 0 && isHostRune(rs[p]); p-- {
		if rs[p] >= utf8.RuneSelf {
			return false
		}
		letter = letter || isASCIILetter(rs[p])
	}
	return letter
}

// isTLD reports whether label (lower case) is a top-level domain in the
// ICANN section of the Public Suffix List.
func isTLD(label string) bool {
	if !isASCII([]rune(label)) {
		a, err := idna.Lookup.ToASCII(label)
		if err != nil || strings.Contains(a, ".") {
			return false
		}
		label = a
	}
	_, icann := publicsuffix.PublicSuffix("x." + label)
	return icann
}

// skeleton folds a word of Latin look-alikes to ASCII: accents dropped,
// Cyrillic and Greek letters that look Latin mapped to those letters. ok is
// false when any letter has no ASCII look-alike.
func skeleton(word []rune) (string, bool) {
	var b strings.Builder
	for _, r := range norm.NFD.String(string(word)) {
		switch {
		case unicode.IsMark(r):
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		default:
			a, ok := lookAlike[r]
			if !ok {
				return "", false
			}
			b.WriteByte(a)
		}
	}
	return b.String(), true
}

// lookAlike maps lower-case non-Latin letters to the ASCII letter they are
// drawn like (Unicode's confusables, the ones in use for spoofing).
var lookAlike = map[rune]byte{
	// Cyrillic
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'ё': 'e', 'һ': 'h', 'н': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j',
	'к': 'k', 'ӏ': 'l', 'м': 'm', 'п': 'n', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'г': 'r', 'ѕ': 's', 'т': 't',
	'ц': 'u', 'ѵ': 'v', 'ԝ': 'w', 'х': 'x', 'у': 'y', 'ү': 'y',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'μ': 'u', 'ν': 'v', 'ο': 'o', 'ρ': 'p',
	'τ': 't', 'υ': 'u', 'χ': 'x', 'γ': 'y', 'ω': 'w',
	// Latin letters outside ASCII
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɡ': 'g', 'ɩ': 'i', 'ʀ': 'r', 'ʏ': 'y', 'ɴ': 'n', 'ᴄ': 'c', 'ᴏ': 'o',
	// Armenian
	'օ': 'o', 'ո': 'n', 'ս': 'u', 'հ': 'h', 'ց': 'g',
}

// hasIPv4 reports four dot-separated groups of one to three digits.
func hasIPv4(rs []rune) bool {
	run, digits := 0, 0
	for i := 0; i <= len(rs); i++ {
		var r rune
		if i < len(rs) {
			r = rs[i]
		}
		_, dot := dotKind(r)
		switch {
		case i < len(rs) && r >= '0' && r <= '9':
			digits++
			if digits > 3 {
				run, digits = 0, 4 // too long for a group; wait for a separator
			}
		case i < len(rs) && dot && digits >= 1 && digits <= 3:
			run++
			digits = 0
		default:
			if digits >= 1 && digits <= 3 && run >= 3 {
				return true
			}
			run, digits = 0, 0
		}
		if run >= 4 {
			return true
		}
	}
	return false
}

func isHostRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '-' || r == '_'
}

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

func isASCIIHost(r rune) bool {
	return isASCIILetter(r) || r >= '0' && r <= '9' || r == '-' || r == '_'
}

func isASCII(rs []rune) bool {
	for _, r := range rs {
		if r >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
