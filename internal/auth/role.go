package auth

import "fmt"

// Role is what a caller is allowed to do, taken from the token's "role" claim.
type Role string

// The roles callverify knows. Role names are matched exactly (case-sensitive).
const (
	RoleCustomer Role = "customer"
	RoleDialer   Role = "dialer"
	RoleAnalyst  Role = "analyst"
	RoleAdmin    Role = "admin"
)

// ParseRole returns the Role named s, or an error if s is not one of the
// known roles.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q (want customer, dialer, analyst or admin)", clip(s))
	}
	return r, nil
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleCustomer, RoleDialer, RoleAnalyst, RoleAdmin:
		return true
	}
	return false
}

// clip shortens a caller-supplied string before it goes into an error
// message, so a hostile claim or header cannot flood the logs.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
