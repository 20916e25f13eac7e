package server

import (
	"regexp"

	"github.com/callverify/callverify/internal/phone"
)

// numberish finds runs that may be phone numbers: 5 or more digits, possibly
// with a leading '+' and spaces, dashes, dots or brackets between them.
var numberish = regexp.MustCompile(`\+?[0-9][0-9 ()\-.]{3,}[0-9]`)

// redact masks every phone-number-like run in a log message, keeping the
// rest of the message whole.
func redact(s string) string {
	return numberish.ReplaceAllStringFunc(s, phone.Mask)
}
