package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	h := decodeSegment(t, token, 0)
	kid, _ := h["kid"].(string)
	return kid
}

func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) jwks(ctx context.Context) jose.JSONWebKeySet {
	e.t.Helper()
	doc, err := e.svc.JWKS(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		e.t.Fatalf("JWKS does not parse with go-jose: %v\n%s", err, doc)
	}
	return set
}

// Our tokens verify with a second, independent JOSE implementation from
// the JWKS document alone, and carry the PASSporT/SHAKEN/RCD members.
func TestTokensVerifyWithGoJoseFromTheJWKSAlone(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{verify.AlgES256, verify.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withAlg(alg))
			e.svc = e.newService(withAlg(alg), func(c *verify.Config) { c.X5U = "https://certs.example/callverify.pem" })
			ctx := context.Background()
			st := e.stamp(outbound, aliceRaw)

			doc, err := e.svc.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(doc, &set); err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSigned(st.Token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			keys := set.Key(h.KeyID)
			if len(keys) != 1 {
				t.Fatalf("kid %q is in the JWKS %d times", h.KeyID, len(keys))
			}
			payload, err := jws.Verify(&keys[0])
			if err != nil {
				t.Fatalf("go-jose rejects our token: %v", err)
			}
			tp, err := keys[0].Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := h.KeyID, base64.RawURLEncoding.EncodeToString(tp); got != want {
				t.Errorf("kid %s is not the RFC 7638 thumbprint %s", got, want)
			}
			if h.Algorithm != alg || keys[0].Algorithm != alg || keys[0].Use != "sig" {
				t.Errorf("alg %s, JWK alg %s use %s", h.Algorithm, keys[0].Algorithm, keys[0].Use)
			}

			hdr := decodeSegment(t, st.Token, 0)
			for k, want := range map[string]string{"typ": "passport", "ppt": "shaken", "alg": alg,
				"x5u": "https://certs.example/callverify.pem"} {
				if hdr[k] != want {
					t.Errorf("header %s = %v, want %s", k, hdr[k], want)
				}
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			c := st.Call
			want := map[string]any{
				"attest": "A",
				"orig":   map[string]any{"tn": "8657188881234"},
				"dest":   map[string]any{"tn": []any{"8613800138000"}},
				"iat":    float64(c.CreateTime.Unix()),
				"exp":    float64(c.ExpireTime.Unix()),
				"jti":    c.ID,
				"iss":    "callverify",
				"origid": c.OrigID,
				"rcd":    map[string]any{"nam": "示例平台客服"},
				"crn":    "您申请的退款进度回访",
			}
			if b1, b2 := mustJSON(t, claims), mustJSON(t, want); b1 != b2 {
				t.Errorf("claims\n got %s\nwant %s", b1, b2)
			}
			if len(c.OrigID) != 36 || c.OrigID[14] != '4' {
				t.Errorf("origid %q is not a version 4 UUID", c.OrigID)
			}
			// RFC 8225 section 9: members in lexicographic order, no whitespace.
			parts := strings.Split(st.Token, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if string(raw) != mustJSON(t, claims) {
				t.Errorf("claims are not in canonical form: %s", raw)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resign replaces a token's header and claims and signs it with key.
func resign(t *testing.T, token string, method jwt.SigningMethod, key any, editHeader, editClaims func(map[string]any)) string {
	t.Helper()
	h, c := decodeSegment(t, token, 0), decodeSegment(t, token, 1)
	h["alg"] = method.Alg()
	if editHeader != nil {
		editHeader(h)
	}
	if editClaims != nil {
		editClaims(c)
	}
	tok := jwt.NewWithClaims(method, jwt.MapClaims(c))
	tok.Header = h
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyTokenFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	parts := strings.Split(st.Token, ".")
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)

	tamperedClaims := decodeSegment(t, st.Token, 1)
	tamperedClaims["dest"] = map[string]any{"tn": []any{"8613900139000"}}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(mustJSON(t, tamperedClaims))) + "." + parts[2]

	tests := []struct {
		name  string
		token string
		want  verify.TokenFailure
	}{
		{"genuine", st.Token, verify.TokenValid},
		{"tampered claims", tampered, verify.TokenBadSignature},
		{"flipped signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), verify.TokenBadSignature},
		{"re-keyed: signed by another key under our kid", resign(t, st.Token, jwt.SigningMethodES256, otherKey, nil, nil), verify.TokenBadSignature},
		{"signed by an unknown key", resign(t, st.Token, jwt.SigningMethodES256, otherKey,
			func(h map[string]any) { h["kid"] = "not-our-key" }, nil), verify.TokenUnknownKey},
		{"no kid", resign(t, st.Token, jwt.SigningMethodES256, otherKey,
			func(h map[string]any) { delete(h, "kid") }, nil), verify.TokenUnknownKey},
		{"EdDSA header on our ES256 kid", resign(t, st.Token, jwt.SigningMethodEdDSA, edKey, nil, nil), verify.TokenBadSignature},
		{"HS256", resign(t, st.Token, jwt.SigningMethodHS256, []byte("secret"), nil, nil), verify.TokenAlgNotAllowed},
		{"alg none", resign(t, st.Token, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, nil), verify.TokenAlgNotAllowed},
		{"RS-less unknown alg", unsigned(t, map[string]any{"alg": "XS999", "typ": "passport", "ppt": "shaken", "kid": kidOf(t, st.Token)}, decodeSegment(t, st.Token, 1)), verify.TokenAlgNotAllowed},
		{"not a PASSporT", resign(t, st.Token, jwt.SigningMethodES256, otherKey,
			func(h map[string]any) { h["typ"] = "JWT" }, nil), verify.TokenMalformed},
		{"not shaken", resign(t, st.Token, jwt.SigningMethodES256, otherKey,
			func(h map[string]any) { h["ppt"] = "div" }, nil), verify.TokenMalformed},
		{"two parts", parts[0] + "." + parts[1], verify.TokenMalformed},
		{"garbage", "not a token", verify.TokenMalformed},
		{"bad base64", "!!!." + parts[1] + "." + parts[2], verify.TokenMalformed},
		{"huge", strings.Repeat("a", 10000), verify.TokenMalformed},
	}
	for _, tt := range tests {
		tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: tt.token})
		if err != nil {
			t.Errorf("%s: error %v", tt.name, err)
			continue
		}
		if tr.Failure != tt.want || tr.Valid != (tt.want == verify.TokenValid) {
			t.Errorf("%s: failure %v valid %v, want %v", tt.name, tr.Failure, tr.Valid, tt.want)
		}
		if tt.want != verify.TokenValid && tr.Claims != nil {
			t.Errorf("%s: claims echoed back for a token whose signature did not verify", tt.name)
		}
	}

	if _, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token, CalleeNumber: "12ab"}); !errors.Is(err, fault.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "callee_number") {
		t.Errorf("a bad callee_number: %v, want INVALID_ARGUMENT naming the field", err)
	}
	if _, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{}); !errors.Is(err, fault.ErrInvalidArgument) {
		t.Errorf("no token: %v", err)
	}
}

func unsigned(t *testing.T, h, c map[string]any) string {
	return base64.RawURLEncoding.EncodeToString([]byte(mustJSON(t, h))) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(mustJSON(t, c))) + ".c2ln"
}

func flip(sig string) string {
	b := []byte(sig)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

func TestVerifyTokenTimeBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)

	// A token from a clock 61 s ahead of ours is not valid yet; 60 s is skew.
	e.clock.Advance(-61 * time.Second)
	if tr, _ := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token}); tr.Failure != verify.TokenNotYetValid {
		t.Errorf("iat 61 s ahead: %v, want NOT_YET_VALID", tr.Failure)
	}
	e.clock.Advance(time.Second)
	if tr, _ := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token}); tr.Failure != verify.TokenValid {
		t.Errorf("iat 60 s ahead: %v, want valid", tr.Failure)
	}
	e.clock.Advance(60*time.Second + verify.DefaultTTL)
	if tr, _ := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token}); tr.Failure != verify.TokenExpired {
		t.Errorf("at exp: %v, want EXPIRED", tr.Failure)
	}
}

func TestRotationIsCompareAndSwapAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.svc, e.newService()
	if _, err := a.JWKS(ctx); err != nil { // first key, lazily
		t.Fatal(err)
	}
	if _, err := b.JWKS(ctx); err != nil {
		t.Fatal(err)
	}
	var (
		wg               sync.WaitGroup
		errA, errB       error
		start            = make(chan struct{})
		instancesRotated int
	)
	wg.Add(2)
	go func() { defer wg.Done(); <-start; _, errA = a.RotateSigningKey(ctx, admin) }()
	go func() { defer wg.Done(); <-start; _, errB = b.RotateSigningKey(ctx, admin) }()
	close(start)
	wg.Wait()
	for _, err := range []error{errA, errB} {
		switch {
		case err == nil:
			instancesRotated++
		case !errors.Is(err, fault.ErrConflict):
			t.Fatalf("rotate: %v", err)
		}
	}
	keys, err := a.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Either exactly one won the race, or they ran one after the other and
	// both rotated (each from the key the other made): never two current.
	current := 0
	for _, k := range keys {
		if k.State == verify.KeyCurrent {
			current++
		}
	}
	if current != 1 || len(keys) != 1+instancesRotated {
		t.Fatalf("%d current keys, %d keys after %d rotations", current, len(keys), instancesRotated)
	}

	// A token signed by the instance that rotated verifies at the other
	// one at once: an unknown kid makes it re-read the keys.
	tok := e.stamp(outbound, aliceRaw).Token
	if tr, err := b.VerifyToken(ctx, verify.VerifyTokenRequest{Token: tok}); err != nil || !tr.Valid {
		t.Fatalf("other instance: %v %v", tr.Failure, err)
	}
	// And the other instance signs with the new key within the cache TTL.
	newest := ""
	for _, k := range keys {
		if k.State == verify.KeyCurrent {
			newest = k.ID
		}
	}
	e.clock.Advance(verify.DefaultKeyCacheTTL)
	st, err := b.StampCall(ctx, dialer, stampReq(outbound, bobRaw))
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, st.Token) != newest {
		t.Fatalf("instance b still signs with an old key after the cache TTL")
	}
}

func TestFirstKeyIsCreatedOnceByRacingInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	kids := make([]string, 6)
	for i := range kids {
		s := e.newService()
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s.StampCall(ctx, dialer, stampReq(outbound, aliceRaw))
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = kidOf(t, st.Token)
		}()
	}
	wg.Wait()
	keys, err := e.svc.ListSigningKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%d keys (%v), want 1", len(keys), err)
	}
	for _, k := range kids {
		if k != keys[0].ID {
			t.Fatalf("an instance signed with %s, want %s", k, keys[0].ID)
		}
	}
}

func TestKeysAreUnusableWithAnotherKEK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.stamp(outbound, aliceRaw)
	other := make([]byte, 32)
	rand.Read(other)
	s := e.newService(func(c *verify.Config) { c.KEK = other })
	if _, err := s.StampCall(ctx, dialer, stampReq(outbound, aliceRaw)); err == nil {
		t.Fatal("a service with another KEK signed with the stored key")
	}
	// Rotating is the way out: the old key only needs its public half now.
	if _, err := s.RotateSigningKey(ctx, admin); err != nil {
		t.Fatalf("rotate with the new KEK: %v", err)
	}
	if _, err := s.StampCall(ctx, dialer, stampReq(outbound, aliceRaw)); err != nil {
		t.Fatalf("stamp after rotating to a key sealed with the new KEK: %v", err)
	}
}

// canonical rebuilds the RFC 8225 section 9 form of a JSON object the way
// an independent verifier would: decode to a map, encode with sorted keys,
// no whitespace and no HTML escaping.
func canonical(t *testing.T, raw []byte) []byte {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // maps are encoded with sorted keys
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// The signed bytes of header and claims are the canonical form: "&", "<"
// and ">" appear as they are, so a verifier that rebuilds the canonical
// form (RFC 8225 section 9, RFC 8785 strings) checks the same bytes.
func TestTokenBytesAreCanonical(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{verify.AlgES256, verify.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withAlg(alg))
			const x5u = "https://certs.example/cert.pem?a=1&b=<2>"
			e.svc = e.newService(withAlg(alg), func(c *verify.Config) { c.X5U = x5u })
			e.removeOfficial(outbound)
			e.addOfficial(outbound, "Q&A <Support>", blocklist.DirectionOutbound)
			ctx := context.Background()
			req := stampReq(outbound, aliceRaw)
			req.ReasonText = "退款 & <回访> 'x' \"y\""
			st, err := e.svc.StampCall(ctx, dialer, req)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(st.Token, ".")
			for i, want := range map[int][]string{
				0: {`"x5u":"https://certs.example/cert.pem?a=1&b=<2>"`},
				1: {`"rcd":{"nam":"Q&A <Support>"}`, `"crn":"退款 & <回访> 'x' \"y\""`},
			} {
				raw, err := base64.RawURLEncoding.DecodeString(parts[i])
				if err != nil {
					t.Fatal(err)
				}
				if got, want := string(raw), string(canonical(t, raw)); got != want {
					t.Errorf("segment %d is not canonical:\n got %s\nwant %s", i, got, want)
				}
				for _, w := range want {
					if !strings.Contains(string(raw), w) {
						t.Errorf("segment %d %s lacks %s", i, raw, w)
					}
				}
				if bytes.Contains(raw, []byte(`\u00`)) {
					t.Errorf("segment %d escapes HTML characters: %s", i, raw)
				}
			}

			set := e.jwks(ctx)
			jws, err := jose.ParseSigned(st.Token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
			if err != nil {
				t.Fatal(err)
			}
			keys := set.Key(jws.Signatures[0].Protected.KeyID)
			if len(keys) != 1 {
				t.Fatalf("kid in the JWKS %d times", len(keys))
			}
			payload, err := jws.Verify(&keys[0])
			if err != nil {
				t.Fatalf("go-jose rejects the token: %v", err)
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			if got := claims["rcd"].(map[string]any)["nam"]; got != "Q&A <Support>" {
				t.Errorf("rcd.nam = %q", got)
			}
			res, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: st.Token})
			if err != nil || !res.Valid {
				t.Errorf("VerifyToken: %+v, %v", res, err)
			}
		})
	}
}
