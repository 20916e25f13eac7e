package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

// The signing keys are read from the store and kept in memory as a keyring:
// private keys are decrypted once, token headers are encoded once. An
// instance re-reads the store when its ring is older than KeyCacheTTL (so a
// rotation made by another instance is picked up within that time, with no
// store round trip on the hot path), at once after its own rotation, and
// when a token names a key id it does not know (at most once a second, so
// forged key ids cannot hammer the store). Because another instance may go
// on signing with a retired key for up to KeyCacheTTL, a retired key stays
// published for MaxTTL + KeyCacheTTL + IatSkew after its retirement.

type ringKey struct {
	meta   SigningKey // SealedPrivate cleared
	method jwt.SigningMethod
	pub    crypto.PublicKey
	priv   crypto.Signer // set for the current key only
	header string        // base64url JOSE header of the tokens it signs
}

type keyring struct {
	loaded  time.Time
	current *ringKey
	byID    map[string]*ringKey
	// byHeader finds a key by the encoded header of the tokens it signs,
	// so that VerifyToken need not decode the header of ours.
	byHeader map[string]*ringKey
	all      []*ringKey // current first, as the store lists them
}

// ring returns a keyring no older than the key cache TTL; with
// needCurrent it also makes sure a current key exists, creating the first
// one if the store has none.
func (s *Service) ring(ctx context.Context, needCurrent bool) (*keyring, error) {
	now := s.now()
	fresh := func(r *keyring) bool {
		return r != nil && !now.Before(r.loaded) && now.Sub(r.loaded) < s.keyTTL &&
			(!needCurrent || r.current != nil)
	}
	if r := s.keyCache.Load(); fresh(r) {
		return r, nil
	}
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	if r := s.keyCache.Load(); fresh(r) { // another goroutine reloaded meanwhile
		return r, nil
	}
	r, err := s.reloadLocked(ctx)
	if err != nil {
		return nil, err
	}
	if needCurrent && r.current == nil {
		if r, err = s.createFirstKeyLocked(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// reload re-reads the keys now.
func (s *Service) reload(ctx context.Context) (*keyring, error) {
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	return s.reloadLocked(ctx)
}

func (s *Service) reloadLocked(ctx context.Context) (*keyring, error) {
	keys, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	prev := s.keyCache.Load()
	r := &keyring{loaded: s.now(), byID: make(map[string]*ringKey, len(keys)), byHeader: make(map[string]*ringKey, len(keys))}
	for _, k := range keys {
		var rk *ringKey
		if prev != nil {
			// Reuse what was decrypted and encoded before.
			if old := prev.byID[k.ID]; old != nil && (old.priv != nil || k.State != KeyCurrent) {
				c := *old
				c.meta = k
				c.meta.SealedPrivate = nil
				if k.State != KeyCurrent {
					c.priv = nil
				}
				rk = &c
			}
		}
		if rk == nil {
			if rk, err = s.loadKey(k); err != nil {
				return nil, err
			}
		}
		r.byID[k.ID] = rk
		r.byHeader[rk.header] = rk
		r.all = append(r.all, rk)
		if k.State == KeyCurrent {
			if r.current != nil {
				return nil, fmt.Errorf("verify: the store has two current signing keys (%s, %s)", r.current.meta.ID, k.ID)
			}
			r.current = rk
		}
	}
	s.keyCache.Store(r)
	return r, nil
}

// loadKey turns a stored key into a ring key, checking that its id is the
// thumbprint of its public key and, for the current key, that the private
// key opens with the KEK and belongs to that public key.
func (s *Service) loadKey(k SigningKey) (*ringKey, error) {
	method, err := signingMethod(k.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("verify: signing key %s: %w", k.ID, err)
	}
	pub, kid, err := parsePublicJWK(k.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("verify: signing key %s: %w", k.ID, err)
	}
	if kid != k.ID {
		return nil, fmt.Errorf("verify: signing key %s: its id is not the thumbprint of its public key", k.ID)
	}
	rk := &ringKey{meta: k, method: method, pub: pub, header: s.encodeHeader(k.Algorithm, k.ID)}
	rk.meta.SealedPrivate = nil
	if k.State == KeyCurrent {
		der, err := s.seal.Open(k.SealedPrivate, aadSigningKey(k.ID))
		if err != nil {
			return nil, fmt.Errorf("verify: signing key %s: %w", k.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("verify: signing key %s: %w", k.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok || !samePublic(signer.Public(), pub) {
			return nil, fmt.Errorf("verify: signing key %s: private key does not match its public key", k.ID)
		}
		rk.priv = signer
	}
	return rk, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func (s *Service) createFirstKeyLocked(ctx context.Context) (*keyring, error) {
	k, err := s.newSigningKey()
	if err != nil {
		return nil, err
	}
	// Compare-and-swap against "no key yet": when another instance created
	// one at the same moment, ours is dropped and theirs is used.
	ev := s.audit.Event(audit.System, "signing_key.create", k.ID, nil,
		map[string]any{"kid": k.ID, "algorithm": k.Algorithm, "state": "CURRENT"})
	if err := s.store.RotateSigningKey(ctx, "", k, time.Time{}, time.Time{}, ev); err != nil && !errors.Is(err, fault.ErrConflict) {
		return nil, err
	}
	r, err := s.reloadLocked(ctx)
	if err != nil {
		return nil, err
	}
	if r.current == nil {
		return nil, errors.New("verify: no current signing key after creating one")
	}
	return r, nil
}

// newSigningKey generates a key of the configured algorithm with its
// private half sealed.
func (s *Service) newSigningKey() (SigningKey, error) {
	var (
		priv crypto.Signer
		jwk  map[string]string
	)
	switch s.alg {
	case AlgEdDSA:
		pub, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return SigningKey{}, err
		}
		priv = p
		jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
	default:
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return SigningKey{}, err
		}
		pt, err := p.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return SigningKey{}, err
		}
		priv = p
		jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:65])}
	}
	kid := thumbprint(jwk)
	jwk["kid"] = kid
	jwk["alg"] = s.alg
	jwk["use"] = "sig"
	pubJSON, err := json.Marshal(jwk)
	if err != nil {
		return SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{
		ID:            kid,
		Algorithm:     s.alg,
		State:         KeyCurrent,
		CreateTime:    s.now().UTC(),
		PublicJWK:     pubJSON,
		SealedPrivate: s.seal.Seal(der, aadSigningKey(kid)),
	}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required
// members only, in lexicographic order, no whitespace, base64url.
func thumbprint(jwk map[string]string) string {
	var buf bytes.Buffer
	buf.WriteByte('{')
	var members []string
	switch jwk["kty"] {
	case "EC":
		members = []string{"crv", "kty", "x", "y"}
	case "OKP":
		members = []string{"crv", "kty", "x"} // RFC 8037 section 2
	}
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		// The values are base64url or fixed names: no JSON escaping needed.
		fmt.Fprintf(&buf, "%q:%q", m, jwk[m])
	}
	buf.WriteByte('}')
	sum := sha256.Sum256(buf.Bytes())
	return b64(sum[:])
}

// parsePublicJWK returns the public key of a JWK and its thumbprint.
func parsePublicJWK(raw []byte) (crypto.PublicKey, string, error) {
	var jwk map[string]string
	if err := json.Unmarshal(raw, &jwk); err != nil {
		return nil, "", fmt.Errorf("public JWK: %w", err)
	}
	x, err := base64.RawURLEncoding.DecodeString(jwk["x"])
	if err != nil {
		return nil, "", fmt.Errorf("public JWK x: %w", err)
	}
	switch {
	case jwk["kty"] == "EC" && jwk["crv"] == "P-256":
		y, err := base64.RawURLEncoding.DecodeString(jwk["y"])
		if err != nil || len(x) != 32 || len(y) != 32 {
			return nil, "", errors.New("public JWK: bad P-256 coordinates")
		}
		pt := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, "", fmt.Errorf("public JWK: %w", err)
		}
		return pub, thumbprint(jwk), nil
	case jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519":
		if len(x) != ed25519.PublicKeySize {
			return nil, "", errors.New("public JWK: bad Ed25519 key")
		}
		return ed25519.PublicKey(x), thumbprint(jwk), nil
	}
	return nil, "", errors.New("public JWK: unsupported key type")
}

func signingMethod(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case AlgES256:
		return jwt.SigningMethodES256, nil
	case AlgEdDSA:
		return jwt.SigningMethodEdDSA, nil
	}
	return nil, fmt.Errorf("algorithm %q is not supported", alg)
}

// encodeHeader is the PASSporT header (RFC 8225 section 4, RFC 8588
// section 4): alg, ppt "shaken", typ "passport", kid and, when configured,
// x5u. Members are in lexicographic order, as RFC 8225 section 9 asks.
func (s *Service) encodeHeader(alg, kid string) string {
	h := map[string]string{"alg": alg, "kid": kid, "ppt": "shaken", "typ": "passport"}
	if s.x5u != "" {
		h["x5u"] = s.x5u
	}
	b, _ := canonicalJSON(h) // a map of strings always marshals; keys come out sorted
	return b64(b)
}

// KeyInfo is a signing key as the admin API shows it: no private part.
type KeyInfo struct {
	ID           string
	Algorithm    string
	State        KeyState
	CreateTime   time.Time
	RetireTime   time.Time
	PublishUntil time.Time
	PublicJWK    map[string]any
}

func keyInfo(k SigningKey) KeyInfo {
	var jwk map[string]any
	_ = json.Unmarshal(k.PublicJWK, &jwk) // checked when the key was loaded or made
	return KeyInfo{
		ID: k.ID, Algorithm: k.Algorithm, State: k.State, CreateTime: k.CreateTime,
		RetireTime: k.RetireTime, PublishUntil: k.PublishUntil, PublicJWK: jwk,
	}
}

// ListSigningKeys returns every signing key, current first, read from the
// store (not the cache).
func (s *Service) ListSigningKeys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyInfo(k))
	}
	return out, nil
}

// RotateSigningKey makes a new key current and retires the previous one,
// which stays published until every token it may have signed has expired.
// When another rotation wins the race, it fails with fault.ErrConflict and
// changes nothing.
//
// It reads the current key id from the store rather than from the keyring,
// so that rotating also recovers from a current key that no longer opens
// (say, after the KEK was replaced): a retired key needs only its public half.
func (s *Service) RotateSigningKey(ctx context.Context, actor audit.Actor) (KeyInfo, error) {
	keys, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return KeyInfo{}, err
	}
	prev := ""
	for _, k := range keys {
		if k.State == KeyCurrent {
			prev = k.ID
		}
	}
	k, err := s.newSigningKey()
	if err != nil {
		return KeyInfo{}, err
	}
	now := s.now().UTC()
	publishUntil := now.Add(MaxTTL + s.keyTTL + IatSkew)
	var before map[string]any
	if prev != "" {
		before = map[string]any{"kid": prev, "state": "CURRENT"}
	}
	after := map[string]any{"kid": k.ID, "algorithm": k.Algorithm, "state": "CURRENT", "previous_publish_until": publishUntil.Format(time.RFC3339)}
	ev := s.audit.Event(actor, "signing_key.rotate", k.ID, before, after)
	if err := s.store.RotateSigningKey(ctx, prev, k, now, publishUntil, ev); err != nil {
		if errors.Is(err, fault.ErrConflict) {
			return KeyInfo{}, fault.Wrap(fault.ErrConflict,
				"the signing keys changed at the same time; list them and rotate again only if still needed", err)
		}
		return KeyInfo{}, err
	}
	if _, err := s.reload(ctx); err != nil {
		return KeyInfo{}, err
	}
	return keyInfo(k), nil
}

// JWKS returns {"keys":[...]}: every public key a live token may carry.
// It creates the first key when none exists yet.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	r, err := s.ring(ctx, true)
	if err != nil {
		return nil, err
	}
	now := s.now()
	doc := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: []json.RawMessage{}}
	for _, k := range r.all {
		if k.meta.PublishedAt(now) {
			doc.Keys = append(doc.Keys, k.meta.PublicJWK)
		}
	}
	return json.Marshal(doc)
}

// verificationKey returns the published key named kid, or nil.
func (s *Service) verificationKey(ctx context.Context, kid string) (*ringKey, error) {
	r, err := s.ring(ctx, false)
	if err != nil {
		return nil, err
	}
	k := r.byID[kid]
	if k == nil {
		// Perhaps another instance rotated since we last looked; re-read,
		// but at most once a second whatever the tokens say.
		now := s.now().UnixNano()
		last := s.lastMiss.Load()
		if now-last >= int64(time.Second) && s.lastMiss.CompareAndSwap(last, now) {
			if r, err = s.reload(ctx); err != nil {
				return nil, err
			}
			k = r.byID[kid]
		}
	}
	if k == nil || !k.meta.PublishedAt(s.now()) {
		return nil, nil
	}
	return k, nil
}
