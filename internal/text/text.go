package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/callverify/callverify/internal/fault"
)

// Field is the policy of one free-text field.
type Field struct {
	Name      string // the request field, named in every error
	Max       int    // the most characters (code points) after trimming
	Required  bool   // empty (after trimming) is refused
	Multiline bool   // line breaks are allowed (long prose fields only)
	Links     bool   // link-like text is allowed (fields no customer or analyst could be lured by)
}

// MaxCombining is the most combining marks allowed on one character. Real
// scripts stack two or three (Vietnamese, Thai, Devanagari); a longer run is
// "Zalgo" text drawn over the lines around it.
const MaxCombining = 4

// Clean returns s trimmed, with line endings normalised to "\n" when the
// field is multi-line, or a fault.Invalid error naming the field and why.
func (f Field) Clean(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fault.Invalid(f.Name, "is not valid UTF-8 text")
	}
	if f.Multiline && strings.Contains(s, "\r") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if f.Required {
			return "", fault.Invalid(f.Name, "is required")
		}
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n > f.Max {
		return "", fault.Invalidf(f.Name, "is longer than %d characters", f.Max)
	}
	marks := 0
	for _, r := range s {
		if why := refused(r, f.Multiline); why != "" {
			return "", fault.Invalid(f.Name, why)
		}
		if isMark(r) {
			if marks++; marks > MaxCombining {
				return "", fault.Invalidf(f.Name, "stacks more than %d combining marks on one character", MaxCombining)
			}
		} else {
			marks = 0
		}
	}
	if !f.Links && LooksLikeLink(s) {
		return "", fault.Invalid(f.Name, "must not contain links or web addresses")
	}
	return s, nil
}

// refused says why r may not appear in a field, or "" when it may.
func refused(r rune, multiline bool) string {
	switch {
	case r == '\n' || r == '\r':
		if multiline {
			return ""
		}
		return "must be a single line"
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		// C0 (TAB and CR included: they start spreadsheet formulas and
		// move a terminal's cursor), DEL and C1 (U+009B is a terminal's CSI).
		return fmt.Sprintf("contains a control character (%U)", r)
	case r == '\u2028' || r == '\u2029':
		return fmt.Sprintf("contains a line or paragraph separator (%U)", r)
	case unicode.Is(unicode.Cf, r):
		// Bidirectional overrides, embeddings, isolates and marks
		// (U+202A-202E, U+2066-2069, U+200E, U+200F, U+061C), zero-width
		// characters (U+200B-200D, U+2060, U+FEFF), the soft hyphen, tag
		// characters: they reorder or hide what a screen shows.
		return fmt.Sprintf("contains an invisible or text-direction character (%U)", r)
	case invisible(r):
		return fmt.Sprintf("contains an invisible character (%U)", r)
	case unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r) || isNonCharacter(r):
		return fmt.Sprintf("contains a character that cannot be shown reliably (%U)", r)
	}
	return ""
}

// invisible reports letters and marks that draw nothing: Hangul fillers,
// the braille blank, the combining grapheme joiner, Khmer inherent vowels
// and Mongolian variation selectors. They make a name look blank or hide
// a difference between two names.
func invisible(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u3164', '\uffa0', '\u2800', '\u034f', '\u17b4', '\u17b5',
		'\u180b', '\u180c', '\u180d', '\u180f':
		return true
	}
	return false
}

func isNonCharacter(r rune) bool {
	return (r >= 0xfdd0 && r <= 0xfdef) || r&0xfffe == 0xfffe
}

func isMark(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me)
}
