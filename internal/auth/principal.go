package auth

import (
	"context"
	"time"
)

// Principal is the authenticated caller.
type Principal struct {
	Subject     string
	Role        Role
	PhoneNumber string // raw phone_number claim, customers only; normalising it is the caller's job
	ExpiresAt   time.Time
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored in ctx by NewContext. The boolean
// is false when ctx carries none (or a nil one).
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok || p == nil {
		return nil, false
	}
	return p, true
}
