// Package calltoken verifies callverify's call tokens offline, from the keys
// the service publishes: the example of docs/integration.md, which includes
// this file as it is.
package calltoken

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are what callverify signs into a call token (a PASSporT of the
// "shaken" extension with Rich Call Data). Numbers are E.164 digits
// without the '+'.
type Claims struct {
	Attest string `json:"attest"` // "A": the platform owns the calling number
	CRN    string `json:"crn"`    // the call's reason, for people
	Dest   struct {
		TN []string `json:"tn"` // the customer being called
	} `json:"dest"`
	Orig struct {
		TN string `json:"tn"` // the official number calling
	} `json:"orig"`
	OrigID string `json:"origid"`
	RCD    *struct {
		Nam string `json:"nam"` // the line's display name
	} `json:"rcd,omitempty"`
	jwt.RegisteredClaims // iss, exp, iat, jti (the call id)
}

const (
	maxLifetime = time.Hour   // a call, and so its token, lives at most an hour
	iatSkew     = time.Minute // how far ahead of our clock iat may be
)

// Verifier checks call tokens against the keys of
// GET /.well-known/jwks.json, e.g. Keys from MicahParks/keyfunc:
//
//	k, err := keyfunc.NewDefaultCtx(ctx, []string{"https://callverify.example/.well-known/jwks.json"})
//	v := calltoken.Verifier{Keys: k.Keyfunc, Issuer: "callverify", Now: time.Now}
type Verifier struct {
	Keys   jwt.Keyfunc      // finds the public key by the token's kid
	Issuer string           // the service's --token-issuer ("callverify" unless changed)
	Now    func() time.Time // time.Now
}

// Verify checks that token was signed by the service for a call from the
// number ringing to the customer's own number (both E.164, "+86...") and
// has not expired. It proves who stamped the call, not that the call is
// still live: ask CheckCaller for the verdict you show.
func (v Verifier) Verify(token, ringing, own string) (*Claims, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		if t.Header["typ"] != "passport" || t.Header["ppt"] != "shaken" {
			return nil, errors.New("not a shaken PASSporT")
		}
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errors.New("no kid")
		}
		return v.Keys(t)
	},
		jwt.WithValidMethods([]string{"ES256"}), // add "EdDSA" if the service signs with it
		jwt.WithIssuer(v.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.Now),
	)
	if err != nil {
		return nil, fmt.Errorf("call token: %w", err)
	}
	now := v.Now()
	switch {
	case c.IssuedAt == nil || c.IssuedAt.After(now.Add(iatSkew)):
		return nil, errors.New("call token: iat missing or in the future")
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > maxLifetime:
		return nil, errors.New("call token: lives longer than a call may")
	case c.Attest != "A":
		return nil, errors.New("call token: not full attestation")
	case c.Orig.TN != strings.TrimPrefix(ringing, "+"):
		return nil, errors.New("call token: for another caller")
	case !slices.Contains(c.Dest.TN, strings.TrimPrefix(own, "+")):
		return nil, errors.New("call token: for another customer")
	}
	return c, nil
}
