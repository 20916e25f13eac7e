package verify

import (
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/text"
)

// parseNumber normalises a number from the request field named field.
func (s *Service) parseNumber(field, raw string) (phone.Number, error) {
	return s.phone.ParseField(field, raw)
}

// checkText validates a free-text field of a call or a device by the one
// text policy (internal/text): one line, at most max characters, nothing
// that hides or reorders what a screen shows, and no links: every such
// field (reason, agent, order, customer id, device label) is shown to the
// customer, and a rogue dialer would put a link there.
func checkText(field, s string, max int, required bool) (string, error) {
	return text.Field{Name: field, Max: max, Required: required}.Clean(s)
}

// looksLikeLink reports whether s contains anything a screen or a person
// could take for a link, in any script (see text.LooksLikeLink).
func looksLikeLink(s string) bool { return text.LooksLikeLink(s) }
