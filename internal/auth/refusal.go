package auth

import (
	"log/slog"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// refusal is the error Verify returns: why the token was refused and what
// it claimed, unverified. It wraps ErrUnauthenticated and the reason. In a
// log it shows the reason and the claims that say who presented it, every
// value masked (phone.Mask: digits hidden, controls replaced, clipped):
// they may be a customer's phone number, and a forger chose them.
type refusal struct {
	reason error
	claims tokenClaims
}

func (r *refusal) Error() string   { return ErrUnauthenticated.Error() + ": " + r.reason.Error() }
func (r *refusal) Unwrap() []error { return []error{ErrUnauthenticated, r.reason} }

// LogValue implements slog.LogValuer.
func (r *refusal) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("reason", r.Error())}
	c := r.claims
	for _, claim := range []struct{ name, value string }{
		{"iss", c.Issuer}, {"sub", c.Subject}, {"role", c.Role}, {"phone_number", c.PhoneNumber},
	} {
		if claim.value != "" {
			attrs = append(attrs, slog.String(claim.name, phone.Mask(claim.value)))
		}
	}
	if c.IssuedAt != nil {
		attrs = append(attrs, slog.String("iat", c.IssuedAt.UTC().Format(time.RFC3339)))
	}
	if c.ExpiresAt != nil {
		attrs = append(attrs, slog.String("exp", c.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return slog.GroupValue(attrs...)
}
