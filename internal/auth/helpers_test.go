package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"github.com/callverify/callverify/internal/clocktest"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// t0 is the fixed "now" the tests run at.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newClock() *clocktest.Clock { return clocktest.New(t0) }

func fixedNow() time.Time { return t0 }

// testKeys are generated once per test binary: RSA generation is slow.
type testKeys struct {
	rsa, rsa2   *rsa.PrivateKey
	rsaSmall    *rsa.PrivateKey // 1024 bits, below the accepted minimum
	p256, p256b *ecdsa.PrivateKey
	p384        *ecdsa.PrivateKey
	p521        *ecdsa.PrivateKey
	ed          ed25519.PrivateKey
	hmacSecret  []byte
	otherSecret []byte
}

var getKeys = sync.OnceValue(func() *testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeys{}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p256b, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.hmacSecret = randBytes(32)
	k.otherSecret = randBytes(32)
	return k
})

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// claimsMap returns a complete, valid claim set for issuer/audience
// "test-iss"/"test-aud" at t0; tests delete or override entries.
func claimsMap() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":          "test-iss",
		"aud":          "test-aud",
		"sub":          "user-1",
		"role":         "customer",
		"phone_number": "+14155550100",
		"iat":          t0.Add(-time.Minute).Unix(),
		"nbf":          t0.Add(-time.Minute).Unix(),
		"exp":          t0.Add(time.Hour).Unix(),
	}
}

// sign signs claims with method and key, setting kid when non-empty.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing test token: %v", err)
	}
	return s
}

// jwk builds a public JWK for a private key.
func jwk(priv crypto.Signer, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
}

func marshalJWKS(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatalf("marshal JWKS: %v", err)
	}
	return b
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func hmacVerifier(t *testing.T, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{
		Issuer:         "test-iss",
		Audience:       "test-aud",
		HMACSecretFile: writeFile(t, "secret", getKeys().hmacSecret),
		Now:            now,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func jwksFileVerifier(t *testing.T, now func() time.Time, keys ...jose.JSONWebKey) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{
		Issuer:   "test-iss",
		Audience: "test-aud",
		JWKSFile: writeFile(t, "jwks.json", marshalJWKS(t, keys...)),
		Now:      now,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// jwksServer serves a JWKS document that tests can swap or break, and
// counts the fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int32
	body    atomic.Pointer[[]byte]
	status  atomic.Int32 // 0 means 200
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if code := s.status.Load(); code != 0 {
			http.Error(w, "broken", int(code))
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) { s.body.Store(&body) }

func urlVerifier(t *testing.T, s *jwksServer, clock *clocktest.Clock) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{
		Issuer:     "test-iss",
		Audience:   "test-aud",
		JWKSURL:    s.URL + "/jwks.json",
		HTTPClient: s.Client(),
		Now:        clock.Now,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func wantUnauthenticated(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want one wrapping ErrUnauthenticated")
	}
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("error %q does not wrap ErrUnauthenticated", err)
	}
}

// privateDir returns a new directory only its owner may enter, as a data
// directory must be.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}
