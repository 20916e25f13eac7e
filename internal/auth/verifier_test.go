package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyAcceptsValidTokens(t *testing.T) {
	t.Parallel()
	k := getKeys()

	tests := []struct {
		name     string
		modify   func(jwt.MapClaims)
		leeway   time.Duration
		wantRole Role
		wantTel  string
	}{
		{
			name:     "customer token yields subject role phone and expiry",
			wantRole: RoleCustomer,
			wantTel:  "+14155550100",
		},
		{
			name:     "admin token without phone_number is accepted",
			modify:   func(c jwt.MapClaims) { c["role"] = "admin"; delete(c, "phone_number") },
			wantRole: RoleAdmin,
		},
		{
			name:     "phone_number on a non-customer token is not exposed",
			modify:   func(c jwt.MapClaims) { c["role"] = "dialer" },
			wantRole: RoleDialer,
		},
		{
			name:     "audience given as an array containing ours is accepted",
			modify:   func(c jwt.MapClaims) { c["aud"] = []string{"someone-else", "test-aud"}; c["role"] = "analyst" },
			wantRole: RoleAnalyst,
		},
		{
			name:     "token expired less than the default leeway ago is accepted",
			modify:   func(c jwt.MapClaims) { c["exp"] = t0.Add(-10 * time.Second).Unix() },
			wantRole: RoleCustomer,
			wantTel:  "+14155550100",
		},
		{
			name:     "nbf is optional",
			modify:   func(c jwt.MapClaims) { delete(c, "nbf") },
			wantRole: RoleCustomer,
			wantTel:  "+14155550100",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claimsMap()
			if tc.modify != nil {
				tc.modify(c)
			}
			token := sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c)
			p, err := hmacVerifier(t, fixedNow).Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Principal{Subject: "user-1", Role: tc.wantRole, PhoneNumber: tc.wantTel, ExpiresAt: time.Unix(c["exp"].(int64), 0).UTC()}
			if *p != want {
				t.Fatalf("principal = %+v, want %+v", *p, want)
			}
		})
	}
}

func TestVerifyRejectsBadTokens(t *testing.T) {
	t.Parallel()
	k := getKeys()

	rsaPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	rsaDER := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	hs := func(modify func(jwt.MapClaims)) func(t *testing.T) string {
		return func(t *testing.T) string {
			c := claimsMap()
			modify(c)
			return sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c)
		}
	}
	literal := func(s string) func(t *testing.T) string { return func(*testing.T) string { return s } }

	hmac := func(t *testing.T) *Verifier { return hmacVerifier(t, fixedNow) }
	jwksFile := func(t *testing.T) *Verifier {
		return jwksFileVerifier(t, fixedNow,
			jwk(k.rsa, "rsa-1", ""), jwk(k.p256, "ec-1", ""), jwk(k.p384, "ec-384", "ES384"),
			jwk(k.rsa2, "rsa-pinned", "RS256"))
	}
	jwksURL := func(t *testing.T) *Verifier {
		s := newJWKSServer(t, marshalJWKS(t, jwk(k.rsa, "rsa-1", ""), jwk(k.p256, "ec-1", "")))
		return urlVerifier(t, s, newClock())
	}

	tests := []struct {
		name     string
		verifier func(t *testing.T) *Verifier
		token    func(t *testing.T) string
		detail   error // a jwt sentinel the error should also wrap, if any
	}{
		{"token signed with another secret", hmac, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, k.otherSecret, "", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"token expired beyond the leeway", hmac, hs(func(c jwt.MapClaims) { c["exp"] = t0.Add(-31 * time.Second).Unix() }), jwt.ErrTokenExpired},
		{"token without exp", hmac, hs(func(c jwt.MapClaims) { delete(c, "exp") }), jwt.ErrTokenRequiredClaimMissing},
		{"token from another issuer", hmac, hs(func(c jwt.MapClaims) { c["iss"] = "evil" }), jwt.ErrTokenInvalidIssuer},
		{"token without iss", hmac, hs(func(c jwt.MapClaims) { delete(c, "iss") }), jwt.ErrTokenRequiredClaimMissing},
		{"token for another audience", hmac, hs(func(c jwt.MapClaims) { c["aud"] = "other-service" }), jwt.ErrTokenInvalidAudience},
		{"token without aud", hmac, hs(func(c jwt.MapClaims) { delete(c, "aud") }), jwt.ErrTokenRequiredClaimMissing},
		{"token not valid yet", hmac, hs(func(c jwt.MapClaims) { c["nbf"] = t0.Add(5 * time.Minute).Unix() }), jwt.ErrTokenNotValidYet},
		{"token without iat", hmac, hs(func(c jwt.MapClaims) { delete(c, "iat") }), jwt.ErrTokenRequiredClaimMissing},
		{"token issued more than 24h ago with a far exp", hmac, hs(func(c jwt.MapClaims) {
			c["iat"] = t0.Add(-24*time.Hour - DefaultLeeway - time.Second).Unix()
			c["nbf"] = c["iat"]
			c["exp"] = t0.Add(30 * 24 * time.Hour).Unix()
		}), nil},
		{"token issued just beyond the leeway in the future", hmac, hs(func(c jwt.MapClaims) { c["iat"] = t0.Add(DefaultLeeway + time.Second).Unix(); delete(c, "nbf") }), jwt.ErrTokenUsedBeforeIssued},
		{"token issued in the future", hmac, hs(func(c jwt.MapClaims) { c["iat"] = t0.Add(5 * time.Minute).Unix(); delete(c, "nbf") }), jwt.ErrTokenUsedBeforeIssued},
		{"token without role", hmac, hs(func(c jwt.MapClaims) { delete(c, "role") }), nil},
		{"token with unknown role", hmac, hs(func(c jwt.MapClaims) { c["role"] = "superuser" }), nil},
		{"token with role in the wrong case", hmac, hs(func(c jwt.MapClaims) { c["role"] = "Admin" }), nil},
		{"token with non-string role", hmac, hs(func(c jwt.MapClaims) { c["role"] = 7 }), jwt.ErrTokenMalformed},
		{"customer token without phone_number", hmac, hs(func(c jwt.MapClaims) { delete(c, "phone_number") }), nil},
		{"token without sub", hmac, hs(func(c jwt.MapClaims) { delete(c, "sub") }), nil},
		{"token with blank sub", hmac, hs(func(c jwt.MapClaims) { c["sub"] = "  " }), nil},
		{"token with a crit header", hmac, func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsMap())
			tok.Header["crit"] = []string{"exp"}
			s, err := tok.SignedString(k.hmacSecret)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, jwt.ErrTokenUnverifiable},
		{"HS384 token with the right secret", hmac, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS384, k.hmacSecret, "", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"alg none token against HMAC verifier", hmac, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"alg none token against JWKS verifier", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"valid token longer than 8 KiB", hmac, hs(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", MaxTokenLength) }), nil},
		{"empty token", hmac, literal(""), nil},
		{"garbage", hmac, literal("garbage"), jwt.ErrTokenMalformed},
		{"three garbage segments", hmac, literal("a.b.c"), jwt.ErrTokenMalformed},
		{"token with Bearer prefix still on", hmac, func(t *testing.T) string {
			return "Bearer " + sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", claimsMap())
		}, jwt.ErrTokenMalformed},
		{"token with a tampered payload", hmac, func(t *testing.T) string {
			good := sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", claimsMap())
			c := claimsMap()
			c["role"] = "admin"
			forged := sign(t, jwt.SigningMethodHS256, k.otherSecret, "", c)
			g, f := strings.Split(good, "."), strings.Split(forged, ".")
			return g[0] + "." + f[1] + "." + g[2]
		}, jwt.ErrTokenSignatureInvalid},

		// JWKS sources.
		{"alg confusion: HS256 signed with the RSA public key PEM, JWKS file", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, rsaPEM(), "rsa-1", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"alg confusion: HS256 signed with the RSA public key DER, JWKS file", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, rsaDER(), "rsa-1", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"alg confusion: HS256 signed with the RSA public key PEM, JWKS URL", jwksURL, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, rsaPEM(), "rsa-1", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"unknown kid, JWKS file", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodES256, k.p256b, "nope", claimsMap())
		}, errUnknownKid},
		{"unknown kid, JWKS URL", jwksURL, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodES256, k.p256b, "nope", claimsMap())
		}, errUnknownKid},
		{"no kid while the set holds several keys", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodRS256, k.rsa, "", claimsMap())
		}, jwt.ErrTokenUnverifiable},
		{"kid header that is not a string", jwksFile, func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claimsMap())
			tok.Header["kid"] = 42
			s, err := tok.SignedString(k.rsa)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, jwt.ErrTokenUnverifiable},
		{"known kid but signed by another key", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodES256, k.p256b, "ec-1", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"RS256 token naming an EC key", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodRS256, k.rsa, "ec-1", claimsMap())
		}, jwt.ErrTokenUnverifiable},
		{"ES384 token naming a P-256 key", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodES384, k.p384, "ec-1", claimsMap())
		}, jwt.ErrTokenUnverifiable},
		{"RS512 token naming a key whose JWK alg is RS256", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodRS512, k.rsa2, "rsa-pinned", claimsMap())
		}, jwt.ErrTokenUnverifiable},
		{"EdDSA token against a set without Ed25519 keys", jwksFile, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodEdDSA, k.ed, "rsa-1", claimsMap())
		}, jwt.ErrTokenSignatureInvalid},
		{"RS256 token naming an EC key, JWKS URL", jwksURL, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodRS256, k.rsa, "ec-1", claimsMap())
		}, jwt.ErrTokenUnverifiable},
		{"expired token, JWKS URL", jwksURL, func(t *testing.T) string {
			c := claimsMap()
			c["exp"] = t0.Add(-time.Hour).Unix()
			return sign(t, jwt.SigningMethodES256, k.p256, "ec-1", c)
		}, jwt.ErrTokenExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.verifier(t)
			token := tc.token(t)
			p, err := v.Verify(context.Background(), token)
			wantUnauthenticated(t, err)
			t.Logf("error: %v", err)
			if p != nil {
				t.Errorf("got principal %+v alongside the error", p)
			}
			if tc.detail != nil && !errors.Is(err, tc.detail) {
				t.Errorf("error %q does not wrap %q", err, tc.detail)
			}
			if len(token) > 20 && strings.Contains(err.Error(), token) {
				t.Errorf("error message contains the token")
			}
		})
	}
}

func TestVerifyHonoursConfiguredLeeway(t *testing.T) {
	t.Parallel()
	k := getKeys()
	v, err := NewVerifier(context.Background(), Config{
		Issuer:         "test-iss",
		Audience:       "test-aud",
		HMACSecretFile: writeFile(t, "secret", k.hmacSecret),
		Leeway:         5 * time.Second,
		Now:            fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsMap()
	c["exp"] = t0.Add(-10 * time.Second).Unix() // inside the default 30s, outside 5s
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c))
	wantUnauthenticated(t, err)
	if !errors.Is(err, jwt.ErrTokenExpired) || !errors.Is(err, ErrExpired) {
		t.Fatalf("error %q, want token expired (ErrExpired)", err)
	}
}

// TestVerifyUsesInjectedClockForExpiry: a token accepted (and so
// remembered) earlier is answered expired once its time is up.
func TestVerifyUsesInjectedClockForExpiry(t *testing.T) {
	t.Parallel()
	k := getKeys()
	clock := newClock()
	v := hmacVerifier(t, clock.Now)
	token := sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", claimsMap()) // exp t0+1h

	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clock.Advance(time.Hour + 31*time.Second)
	_, err := v.Verify(context.Background(), token)
	wantUnauthenticated(t, err)
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("error %q, want token expired", err)
	}
}

func TestVerifyAcceptsTokenJustUnderSizeLimit(t *testing.T) {
	t.Parallel()
	k := getKeys()
	v := hmacVerifier(t, fixedNow)
	base := sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", claimsMap())
	// Grow a padding claim until the token is as long as allowed.
	pad := (MaxTokenLength-len(base))*3/4 - 64
	var token string
	for ; ; pad++ {
		c := claimsMap()
		c["pad"] = strings.Repeat("x", pad)
		token = sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c)
		if len(token) >= MaxTokenLength-3 {
			break
		}
	}
	if len(token) > MaxTokenLength {
		t.Fatalf("test built a %d-byte token", len(token))
	}
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("%d-byte token: %v", len(token), err)
	}
}

func TestJWKSFileVerifiesEveryKeyType(t *testing.T) {
	t.Parallel()
	k := getKeys()
	v := jwksFileVerifier(t, fixedNow,
		jwk(k.rsa, "rsa-1", ""),
		jwk(k.rsa2, "rsa-pss", "PS256"),
		jwk(k.p256, "ec-256", "ES256"),
		jwk(k.p384, "ec-384", ""),
		jwk(k.ed, "ed-1", ""),
	)
	tests := []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"RS256 with RSA key", jwt.SigningMethodRS256, k.rsa, "rsa-1"},
		{"RS384 with RSA key", jwt.SigningMethodRS384, k.rsa, "rsa-1"},
		{"RS512 with RSA key", jwt.SigningMethodRS512, k.rsa, "rsa-1"},
		{"PS256 with RSA key", jwt.SigningMethodPS256, k.rsa, "rsa-1"},
		{"PS256 with RSA key pinned to PS256", jwt.SigningMethodPS256, k.rsa2, "rsa-pss"},
		{"ES256 with P-256 key", jwt.SigningMethodES256, k.p256, "ec-256"},
		{"ES384 with P-384 key", jwt.SigningMethodES384, k.p384, "ec-384"},
		{"EdDSA with Ed25519 key", jwt.SigningMethodEdDSA, k.ed, "ed-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(context.Background(), sign(t, tc.method, tc.key, tc.kid, claimsMap()))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != "user-1" || p.Role != RoleCustomer || p.PhoneNumber != "+14155550100" {
				t.Fatalf("principal = %+v", p)
			}
		})
	}
}

func TestJWKSFileWithOneKeyAcceptsTokenWithoutKid(t *testing.T) {
	t.Parallel()
	k := getKeys()
	v := jwksFileVerifier(t, fixedNow, jwk(k.p256, "only", ""))
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.p256, "", claimsMap())); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestJWKSFileSkipsEncryptionKeys(t *testing.T) {
	t.Parallel()
	k := getKeys()
	enc := jose.JSONWebKey{Key: k.rsa2.Public(), KeyID: "enc-1", Use: "enc"}
	v := jwksFileVerifier(t, fixedNow, jwk(k.p256, "ec-1", ""), enc)
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.p256, "", claimsMap())); err != nil {
		t.Fatalf("the enc key should not count, so no kid is needed: %v", err)
	}
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa2, "enc-1", claimsMap()))
	wantUnauthenticated(t, err)
}

func TestNewVerifierRejectsUnusableKeySources(t *testing.T) {
	t.Parallel()
	k := getKeys()
	dir := t.TempDir()

	jwksFile := func(body []byte) Config {
		return Config{Issuer: "i", Audience: "a", JWKSFile: writeFile(t, "jwks.json", body)}
	}
	tests := []struct {
		name    string
		cfg     Config
		wantMsg string
	}{
		{"invalid config", Config{Issuer: "i"}, "Audience is required"},
		{"missing HMAC secret file", Config{Issuer: "i", Audience: "a", HMACSecretFile: dir + "/nope"}, "reading HMAC secret file"},
		{"HMAC secret shorter than 32 bytes", Config{Issuer: "i", Audience: "a", HMACSecretFile: writeFile(t, "short", make([]byte, 31))}, "at least 32"},
		{"missing JWKS file", Config{Issuer: "i", Audience: "a", JWKSFile: dir + "/nope.json"}, "reading JWKS file"},
		{"JWKS file that is not JSON", jwksFile([]byte("not json")), "not a JWKS JSON document"},
		{"JWKS file without keys member", jwksFile([]byte(`{"kty":"EC"}`)), `no "keys" member`},
		{"JWKS file with an empty key list", jwksFile([]byte(`{"keys":[]}`)), "no usable signing key"},
		{"JWKS file with a private key", jwksFile(marshalJWKS(t, jose.JSONWebKey{Key: k.p256, KeyID: "priv"})), "private key material"},
		{"JWKS file with a symmetric key", jwksFile(marshalJWKS(t, jwk(k.p256, "ec", ""), jose.JSONWebKey{Key: k.hmacSecret, KeyID: "oct"})), "symmetric"},
		{"JWKS file with a P-521 key", jwksFile(marshalJWKS(t, jwk(k.p521, "ec521", ""))), "P-521 is not supported"},
		{"JWKS file with a 1024-bit RSA key", jwksFile(marshalJWKS(t, jwk(k.rsaSmall, "small", ""))), "1024 bits"},
		{"JWKS file with an alg that does not fit the key", jwksFile(marshalJWKS(t, jwk(k.p256, "ec", "RS256"))), `alg "RS256" cannot be used`},
		{"JWKS file with an unknown key type", jwksFile([]byte(`{"keys":[{"kty":"XYZ","kid":"x"}]}`)), "unusable keys"},
		{"JWKS file with only encryption keys", jwksFile(marshalJWKS(t, jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "e", Use: "enc"})), "no usable signing key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(context.Background(), tc.cfg)
			if err == nil {
				t.Fatalf("NewVerifier succeeded, want error containing %q", tc.wantMsg)
			}
			if v != nil {
				t.Error("got a verifier alongside the error")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tc.wantMsg)
			}
			if errors.Is(err, ErrUnauthenticated) {
				t.Errorf("configuration error %q wraps ErrUnauthenticated", err)
			}
		})
	}
}

func TestVerifyReportsEveryClaimProblemOnOneLine(t *testing.T) {
	t.Parallel()
	k := getKeys()
	c := claimsMap()
	delete(c, "sub")
	c["role"] = "root"
	_, err := hmacVerifier(t, fixedNow).Verify(context.Background(), sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c))
	wantUnauthenticated(t, err)
	msg := err.Error()
	if !strings.Contains(msg, "sub claim") || !strings.Contains(msg, `role claim "root"`) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q, want both problems on one line", msg)
	}
}

func TestNewVerifierRefusesAJWKSFileOthersCanChange(t *testing.T) {
	t.Parallel()
	k := getKeys()
	path := writeFile(t, "jwks.json", marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := NewVerifier(context.Background(), Config{Issuer: "i", Audience: "a", JWKSFile: path})
	if err == nil || !strings.Contains(err.Error(), "mode 0666") || !strings.Contains(err.Error(), "chmod go-w "+path) {
		t.Fatalf("NewVerifier with a world-writable JWKS file: %v, want a refusal naming the mode and the fix", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(context.Background(), Config{Issuer: "i", Audience: "a", JWKSFile: path}); err != nil {
		t.Fatalf("NewVerifier with a 0644 JWKS file (public keys may be read by anyone): %v", err)
	}
}

func TestVerifyRefusesTokensOlderThanMaxTokenAge(t *testing.T) {
	t.Parallel()
	k := getKeys()
	for _, tc := range []struct {
		name   string
		maxAge time.Duration // 0: the default, 24h
		issued time.Duration // before t0
		ok     bool
	}{
		{"default: issued 24h ago", 0, 24 * time.Hour, true},
		{"default: issued 24h and the leeway ago", 0, 24*time.Hour + DefaultLeeway, true},
		{"default: issued a second more ago", 0, 24*time.Hour + DefaultLeeway + time.Second, false},
		{"1h: issued 59m ago", time.Hour, 59 * time.Minute, true},
		{"1h: issued 2h ago", time.Hour, 2 * time.Hour, false},
		{"1h: issued the leeway in the future", time.Hour, -DefaultLeeway, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(context.Background(), Config{
				Issuer: "test-iss", Audience: "test-aud", MaxTokenAge: tc.maxAge,
				HMACSecretFile: writeFile(t, "secret", k.hmacSecret), Now: fixedNow,
			})
			if err != nil {
				t.Fatal(err)
			}
			c := claimsMap()
			c["iat"] = t0.Add(-tc.issued).Unix()
			delete(c, "nbf")
			c["exp"] = t0.Add(7 * 24 * time.Hour).Unix() // exp alone would allow it
			_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c))
			if tc.ok && err != nil {
				t.Fatalf("Verify: %v, want the token accepted", err)
			}
			if !tc.ok {
				wantUnauthenticated(t, err)
				if !strings.Contains(err.Error(), "issued") {
					t.Errorf("error %q does not say the token is too old", err)
				}
			}
		})
	}
}

func TestConfigRefusesNegativeMaxTokenAge(t *testing.T) {
	t.Parallel()
	err := Config{Issuer: "i", Audience: "a", HMACSecretFile: "f", MaxTokenAge: -time.Second}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxTokenAge") {
		t.Fatalf("Validate = %v, want MaxTokenAge refused", err)
	}
}

// The server logs the error of a refused token; what it logs must not show
// claim values in plain, whoever chose them.
func TestRefusedTokenLogsClaimsMasked(t *testing.T) {
	t.Parallel()
	k := getKeys()
	v := hmacVerifier(t, fixedNow)
	for _, tc := range []struct {
		name   string
		modify func(jwt.MapClaims)
		key    []byte
	}{
		{"a phone number in the role claim", func(c jwt.MapClaims) { c["role"] = "+8613800138000" }, k.hmacSecret},
		{"a customer's token issued too long ago", func(c jwt.MapClaims) {
			c["phone_number"] = "+8613800138000"
			c["iat"] = t0.Add(-48 * time.Hour).Unix()
		}, k.hmacSecret},
		{"a forged token naming a customer", func(c jwt.MapClaims) {
			c["phone_number"] = "+8613800138000"
			c["sub"] = "+8613800138000"
		}, k.otherSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claimsMap()
			tc.modify(c)
			_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, tc.key, "", c))
			wantUnauthenticated(t, err)
			var buf strings.Builder
			slog.New(slog.NewTextHandler(&buf, nil)).Info("token refused", "method", "/m", "error", err)
			line := buf.String()
			for _, plain := range []string{"13800138000", "138001380"} {
				if strings.Contains(line, plain) || strings.Contains(err.Error(), plain) {
					t.Errorf("the log line or error shows %q:\n%s", plain, line)
				}
			}
			if !strings.Contains(line, "error.reason=") {
				t.Errorf("the log line does not say why the token was refused:\n%s", line)
			}
		})
	}
	// What a refusal logs, exactly: reason, masked claims, times.
	c := claimsMap()
	c["iat"] = t0.Add(-48 * time.Hour).Unix()
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c))
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("token refused", "error", err)
	want := `level=INFO msg="token refused" error.reason="unauthenticated: token was issued 48h0m0s ago, more than the 24h0m0s allowed" ` +
		`error.iss=test-iss error.sub=user-1 error.role=customer error.phone_number=+141****0100 ` +
		`error.iat=2029-12-31T03:04:05Z error.exp=2030-01-02T04:04:05Z` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("log line\n got %s\nwant %s", got, want)
	}
}
