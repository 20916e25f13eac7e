package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifySaysExpiredOnlyOfAGoodTokenPastItsTime: ErrExpired (which the
// caller is told) marks a token whose signature verifies and whose claims
// all held until its time ran out; a forged, foreign or malformed token
// that also expired is only unauthenticated.
func TestVerifySaysExpiredOnlyOfAGoodTokenPastItsTime(t *testing.T) {
	t.Parallel()
	k := getKeys()
	expired := func(c jwt.MapClaims) {
		c["iat"] = t0.Add(-2 * time.Hour).Unix()
		c["nbf"] = c["iat"]
		c["exp"] = t0.Add(-time.Hour).Unix()
	}
	for _, tc := range []struct {
		name    string
		modify  func(jwt.MapClaims)
		secret  []byte
		expired bool
	}{
		{"exp passed", expired, k.hmacSecret, true},
		{"issued longer than the maximum age ago", func(c jwt.MapClaims) {
			c["iat"] = t0.Add(-25 * time.Hour).Unix()
			c["nbf"] = c["iat"]
			c["exp"] = t0.Add(time.Hour).Unix()
		}, k.hmacSecret, true},
		{"exp passed, signed with another secret", expired, k.otherSecret, false},
		{"exp passed, another issuer", func(c jwt.MapClaims) { expired(c); c["iss"] = "evil" }, k.hmacSecret, false},
		{"exp passed, another audience", func(c jwt.MapClaims) { expired(c); c["aud"] = "other" }, k.hmacSecret, false},
		{"exp passed, no role", func(c jwt.MapClaims) { expired(c); delete(c, "role") }, k.hmacSecret, false},
		{"no iat", func(c jwt.MapClaims) { delete(c, "iat") }, k.hmacSecret, false},
		{"not valid yet", func(c jwt.MapClaims) { c["nbf"] = t0.Add(10 * time.Minute).Unix() }, k.hmacSecret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claimsMap()
			tc.modify(c)
			_, err := hmacVerifier(t, fixedNow).Verify(context.Background(), sign(t, jwt.SigningMethodHS256, tc.secret, "", c))
			wantUnauthenticated(t, err)
			if got := errors.Is(err, ErrExpired); got != tc.expired {
				t.Errorf("errors.Is(%q, ErrExpired) = %v, want %v", err, got, tc.expired)
			}
		})
	}
}
