package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// jwksAlgs is every signing algorithm a JWKS-backed Verifier can accept.
// Which of them a given key accepts depends on its type (see keyAlgs).
var jwksAlgs = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

const (
	maxJWKSBytes     = 1 << 20 // a JWKS document larger than this is refused
	minRSABits       = 2048
	minRefreshGap    = 30 * time.Second // at most one JWKS fetch per this long
	jwksFetchTimeout = 10 * time.Second
)

// errUnknownKid marks a lookup that failed only because no key has the
// token's kid, which is the one failure a JWKS refresh can cure.
var errUnknownKid = errors.New("unknown kid")

// verificationKey is one usable public key from a JWKS.
type verificationKey struct {
	kid  string
	key  any      // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	algs []string // the token algorithms this key may verify
}

// keySet is an immutable snapshot of the usable keys of a JWKS.
type keySet struct {
	keys      []verificationKey
	fetchedAt time.Time // when it was loaded (Verifier clock)
}

// keyAlgs returns the algorithms a public key of this type may verify, or
// why the key cannot be used.
func keyAlgs(key any) ([]string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA key has %d bits, at least %d are required", bits, minRSABits)
		}
		return []string{"RS256", "RS384", "RS512", "PS256"}, nil
	case *ecdsa.PublicKey:
		switch name := k.Curve.Params().Name; name {
		case "P-256":
			return []string{"ES256"}, nil
		case "P-384":
			return []string{"ES384"}, nil
		default:
			return nil, fmt.Errorf("EC curve %s is not supported (P-256 and P-384 are)", name)
		}
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	case []byte:
		return nil, errors.New("symmetric (oct) keys are not accepted in a JWKS")
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return nil, errors.New("key holds private key material; a verification JWKS must hold public keys only")
	default:
		return nil, fmt.Errorf("key type %T is not supported", key)
	}
}

// parseJWKS parses a JWKS document with go-jose. In strict mode (a local
// file the operator controls) any key that cannot be used is an error; in
// lenient mode (a set served by an identity provider, which may hold keys
// for other purposes) such keys are skipped, as RFC 7517 section 5 advises.
// Keys whose "use" is set to something other than "sig" are always skipped.
// Either way at least one usable key is required.
func parseJWKS(data []byte, strict bool) (*keySet, error) {
	// Split the set into its members first, so that one key go-jose does not
	// understand does not make the whole set unreadable.
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS JSON document: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWKS JSON document: no "keys" member`)
	}

	var set jose.JSONWebKeySet
	var problems []error
	for i, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			problems = append(problems, fmt.Errorf("keys[%d]: %w", i, err))
			continue
		}
		set.Keys = append(set.Keys, k)
	}

	ks := &keySet{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		algs, err := keyAlgs(k.Key)
		if err == nil && k.Algorithm != "" {
			if !slices.Contains(algs, k.Algorithm) {
				err = fmt.Errorf("alg %q cannot be used with this key (it allows %s)", clip(k.Algorithm), strings.Join(algs, ", "))
			} else {
				algs = []string{k.Algorithm}
			}
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("key %q: %w", clip(k.KeyID), err))
			continue
		}
		ks.keys = append(ks.keys, verificationKey{kid: k.KeyID, key: k.Key, algs: algs})
	}

	if strict && len(problems) > 0 {
		return nil, fmt.Errorf("JWKS has unusable keys: %w", problemList(problems))
	}
	if len(ks.keys) == 0 {
		if len(problems) > 0 {
			return nil, fmt.Errorf("JWKS has no usable signing key: %w", problemList(problems))
		}
		return nil, errors.New("JWKS has no usable signing key")
	}
	return ks, nil
}

// problemList joins errors on one line ("; "), unlike errors.Join.
type problemList []error

func (p problemList) Error() string {
	msgs := make([]string, len(p))
	for i, err := range p {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p problemList) Unwrap() []error { return p }

// algs returns, in a stable order, every algorithm some key in the set accepts.
func (ks *keySet) algs() []string {
	var out []string
	for _, a := range jwksAlgs {
		for _, k := range ks.keys {
			if slices.Contains(k.algs, a) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// lookup selects the key(s) for a token. A kid is required when the set
// holds more than one key; the chosen key must accept the token's alg.
func (ks *keySet) lookup(kid string, hasKid bool, alg string) (any, error) {
	var candidates []verificationKey
	if !hasKid {
		if len(ks.keys) != 1 {
			return nil, fmt.Errorf("token has no kid header and the key set holds %d keys", len(ks.keys))
		}
		candidates = ks.keys
	} else {
		for _, k := range ks.keys {
			if k.kid == kid {
				candidates = append(candidates, k)
			}
		}
		if len(candidates) == 0 {
			return nil, fmt.Errorf("%w %q", errUnknownKid, clip(kid))
		}
	}

	var keys []jwt.VerificationKey
	var allowed []string
	for _, c := range candidates {
		if slices.Contains(c.algs, alg) {
			keys = append(keys, c.key)
		}
		allowed = append(allowed, c.algs...)
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("token alg %s does not match key %q (it allows %s)", alg, clip(kid), strings.Join(allowed, ", "))
	case 1:
		return keys[0], nil
	default:
		// Several keys share the kid (RFC 7517 allows it); try each.
		return jwt.VerificationKeySet{Keys: keys}, nil
	}
}

// fetchJWKS GETs and parses the JWKS at rawURL.
func fetchJWKS(ctx context.Context, client *http.Client, rawURL string) (*keySet, error) {
	where := redactURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request for %s: %w", where, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("JWKS fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("JWKS fetch from %s: HTTP status %d", where, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("JWKS fetch from %s: reading body: %w", where, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS fetch from %s: document larger than %d bytes", where, maxJWKSBytes)
	}
	ks, err := parseJWKS(body, false)
	if err != nil {
		return nil, fmt.Errorf("JWKS from %s: %w", where, err)
	}
	return ks, nil
}

// redactURL hides any password in u for error messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	return p.Redacted()
}
