package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// verifyOK fails the test unless token verifies.
func verifyOK(t *testing.T, v *Verifier, token string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func wantFetches(t *testing.T, s *jwksServer, want int32) {
	t.Helper()
	if got := s.fetches.Load(); got != want {
		t.Fatalf("JWKS fetched %d times, want %d", got, want)
	}
}

func TestJWKSURLServesFromCache(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", ""), jwk(k.rsa, "rsa-1", "")))
	clock := newClock()
	v := urlVerifier(t, s, clock)
	wantFetches(t, s, 1)

	for range 10 {
		verifyOK(t, v, sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap()))
		verifyOK(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claimsMap()))
	}
	clock.Advance(DefaultRefreshInterval - time.Second)
	verifyOK(t, v, sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap()))
	v.bg.Wait()
	wantFetches(t, s, 1)
}

func TestJWKSURLRefreshesInBackgroundAfterInterval(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "old", "")))
	clock := newClock()
	v := urlVerifier(t, s, clock)
	oldToken := sign(t, jwt.SigningMethodES256, k.p256, "old", claimsMap())

	// The identity provider rotates its key.
	s.set(marshalJWKS(t, jwk(k.p384, "new", "")))
	clock.Advance(DefaultRefreshInterval)

	// The request that notices the stale cache is still served from it.
	verifyOK(t, v, oldToken)
	v.bg.Wait()
	wantFetches(t, s, 2)

	verifyOK(t, v, sign(t, jwt.SigningMethodES384, k.p384, "new", claimsMap()))
	_, err := v.Verify(context.Background(), oldToken)
	wantUnauthenticated(t, err)
	v.bg.Wait()
	wantFetches(t, s, 2) // the old kid is now unknown, but the set was fetched < 30s ago
}

func TestJWKSURLHonoursConfiguredRefreshInterval(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	clock := newClock()
	v, err := NewVerifier(context.Background(), Config{
		Issuer: "test-iss", Audience: "test-aud",
		JWKSURL: s.URL, HTTPClient: s.Client(), Now: clock.Now,
		RefreshInterval: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap())
	clock.Advance(2 * time.Minute)
	verifyOK(t, v, token)
	v.bg.Wait()
	wantFetches(t, s, 2)
}

func TestJWKSURLRefreshesOnUnknownKidAtMostEvery30s(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	clock := newClock()
	v := urlVerifier(t, s, clock)
	ctx := context.Background()

	s.set(marshalJWKS(t, jwk(k.p256, "ec-1", ""), jwk(k.ed, "ed-2", "")))
	newToken := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-2", claimsMap())

	// Within 30s of the initial fetch an unknown kid does not cause a fetch.
	clock.Advance(29 * time.Second)
	_, err := v.Verify(ctx, newToken)
	wantUnauthenticated(t, err)
	if !errors.Is(err, errUnknownKid) || !strings.Contains(err.Error(), "less than 30s ago") {
		t.Fatalf("error %q, want unknown kid with the refresh rate-limited", err)
	}
	wantFetches(t, s, 1)

	// After 30s it does, and the new key is found.
	clock.Advance(time.Second)
	verifyOK(t, v, newToken)
	wantFetches(t, s, 2)

	// A flood of made-up kids right after that fetches nothing more.
	for i := range 20 {
		_, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256b, "ghost-"+string(rune('a'+i)), claimsMap()))
		wantUnauthenticated(t, err)
	}
	wantFetches(t, s, 2)

	// 30s later one more fetch is allowed.
	clock.Advance(30 * time.Second)
	_, err = v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256b, "ghost", claimsMap()))
	wantUnauthenticated(t, err)
	wantFetches(t, s, 3)
	verifyOK(t, v, newToken)
	v.bg.Wait()
	wantFetches(t, s, 3)
}

func TestJWKSURLKeepsCachedSetWhenRefreshFails(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	clock := newClock()
	v := urlVerifier(t, s, clock)
	token := sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap())

	failures := []struct {
		name        string
		breakServer func()
	}{
		{"HTTP 500", func() { s.status.Store(http.StatusInternalServerError) }},
		{"not JSON", func() { s.status.Store(0); s.set([]byte("<html>oops</html>")) }},
		{"no usable key", func() { s.status.Store(0); s.set([]byte(`{"keys":[]}`)) }},
	}
	fetches := int32(1)
	for _, f := range failures {
		f.breakServer()
		// Periodic refresh fails...
		clock.Advance(DefaultRefreshInterval)
		verifyOK(t, v, token)
		v.bg.Wait()
		fetches++
		wantFetches(t, s, fetches)
		// ...and the cached key still verifies.
		verifyOK(t, v, token)

		// An unknown-kid refresh fails too, and says why.
		clock.Advance(minRefreshGap)
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.p256b, "ghost", claimsMap()))
		wantUnauthenticated(t, err)
		if !strings.Contains(err.Error(), "key set refresh") {
			t.Fatalf("%s: error %q does not mention the failed refresh", f.name, err)
		}
		fetches++
		wantFetches(t, s, fetches)
		verifyOK(t, v, token)
		v.bg.Wait()
		wantFetches(t, s, fetches) // failed attempts are rate-limited too
	}

	// The provider recovers with a rotated set; the next refresh picks it up.
	s.status.Store(0)
	s.set(marshalJWKS(t, jwk(k.p384, "ec-2", "")))
	clock.Advance(minRefreshGap)
	verifyOK(t, v, sign(t, jwt.SigningMethodES384, k.p384, "ec-2", claimsMap()))
}

func TestJWKSURLSkipsKeysItCannotUse(t *testing.T) {
	t.Parallel()
	k := getKeys()
	body := marshalJWKS(t,
		jose.JSONWebKey{Key: k.hmacSecret, KeyID: "oct"},
		jwk(k.p521, "ec-521", ""),
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "enc", Use: "enc"},
		jwk(k.p256, "ec-1", ""),
	)
	// And one go-jose does not understand at all.
	body = []byte(strings.Replace(string(body), `"keys":[`, `"keys":[{"kty":"XYZ","kid":"future"},`, 1))
	s := newJWKSServer(t, body)
	v := urlVerifier(t, s, newClock())
	verifyOK(t, v, sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap()))
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, k.hmacSecret, "oct", claimsMap()))
	wantUnauthenticated(t, err)
}

func TestJWKSURLInitialFetchFailureFailsNewVerifier(t *testing.T) {
	t.Parallel()
	k := getKeys()
	tests := []struct {
		name    string
		setup   func(s *jwksServer)
		wantMsg string
	}{
		{"HTTP 404", func(s *jwksServer) { s.status.Store(http.StatusNotFound) }, "HTTP status 404"},
		{"body is not JSON", func(s *jwksServer) { s.set([]byte("nope")) }, "not a JWKS JSON document"},
		{"set has no usable key", func(s *jwksServer) { s.set(marshalJWKS(t, jwk(k.p521, "x", ""))) }, "no usable signing key"},
		{"body larger than 1 MiB", func(s *jwksServer) {
			s.set([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}`))
		}, "larger than"},
		{"server gone", func(s *jwksServer) { s.Close() }, "JWKS fetch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
			tc.setup(s)
			_, err := NewVerifier(context.Background(), Config{
				Issuer: "i", Audience: "a", JWKSURL: s.URL, HTTPClient: s.Client(),
			})
			if err == nil || !strings.Contains(err.Error(), "initial JWKS fetch") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %v, want initial JWKS fetch failure mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func TestJWKSURLInitialFetchHonoursContext(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewVerifier(ctx, Config{Issuer: "i", Audience: "a", JWKSURL: s.URL, HTTPClient: s.Client()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestJWKSURLConcurrentVerifiesShareFetches(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	clock := newClock()
	v := urlVerifier(t, s, clock)
	good := sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap())
	ghost := sign(t, jwt.SigningMethodES256, k.p256b, "ghost", claimsMap())
	clock.Advance(DefaultRefreshInterval)

	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(context.Background(), good); err != nil {
					errs <- err
				}
				if _, err := v.Verify(context.Background(), ghost); err == nil {
					errs <- errors.New("ghost token verified")
				}
			}
		})
	}
	wg.Wait()
	v.bg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One initial fetch plus, at the same clock reading, one refresh at most.
	wantFetches(t, s, 2)
}

func TestJWKSURLErrorsDoNotRevealURLPassword(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "ec-1", "")))
	s.status.Store(http.StatusForbidden)
	u := strings.Replace(s.URL, "http://", "http://user:hunter2@", 1)
	_, err := NewVerifier(context.Background(), Config{Issuer: "i", Audience: "a", JWKSURL: u, HTTPClient: s.Client()})
	if err == nil || !strings.Contains(err.Error(), "HTTP status 403") {
		t.Fatalf("error %v, want HTTP status 403", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q reveals the URL password", err)
	}
}
