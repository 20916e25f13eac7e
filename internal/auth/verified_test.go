package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyRemembersAVerifiedToken: a token verified once is answered from
// memory after that (no parse, no signature: a handful of allocations
// instead of dozens), with the same Principal.
//
// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestVerifyRemembersAVerifiedToken(t *testing.T) {
	k := getKeys()
	v := jwksFileVerifier(t, fixedNow, jwk(k.p256, "ec-1", ""))
	tok := sign(t, jwt.SigningMethodES256, k.p256, "ec-1", claimsMap())
	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.verified.len(), 1; got != want {
		t.Fatalf("remembered tokens = %d, want %d", got, want)
	}
	again, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if *again != *first {
		t.Fatalf("remembered Principal %+v, want %+v", *again, *first)
	}
	if again == first {
		t.Fatal("the remembered Principal is shared between callers, want a copy each")
	}
	// A full check of this ES256 token takes about 90 allocations.
	if got := testing.AllocsPerRun(20, func() { _, _ = v.Verify(context.Background(), tok) }); got > 4 {
		t.Fatalf("Verify of a remembered token: %.0f allocations, want at most 4", got)
	}
	if got, want := v.verified.len(), 1; got != want {
		t.Fatalf("remembered tokens = %d, want %d", got, want)
	}
}

// TestRememberedTokenStillExpires: the time checks run on every use, by the
// parser's own validator: a remembered token is refused, for the usual
// reason, once it has expired, is too old, or (the clock set back) is not
// yet issued; and it is forgotten.
func TestRememberedTokenStillExpires(t *testing.T) {
	t.Parallel()
	k := getKeys()
	for _, tc := range []struct {
		name string
		move time.Duration
		want error
	}{
		{"after exp and the leeway", time.Hour + DefaultLeeway + time.Second, jwt.ErrTokenExpired},
		{"before iat and the leeway", -time.Minute - DefaultLeeway - time.Second, jwt.ErrTokenUsedBeforeIssued},
		{"before nbf", -time.Minute - DefaultLeeway - time.Second, jwt.ErrTokenNotValidYet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			v := hmacVerifier(t, clock.Now)
			tok := sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", claimsMap())
			verifyOK(t, v, tok)
			verifyOK(t, v, tok)
			clock.Advance(tc.move)
			_, err := v.Verify(context.Background(), tok)
			wantUnauthenticated(t, err)
			if !errors.Is(err, tc.want) {
				t.Fatalf("refused with %v, want %v", err, tc.want)
			}
			if got, want := v.verified.len(), 0; got != want {
				t.Fatalf("remembered tokens = %d, want %d", got, want)
			}
		})
	}
	t.Run("older than MaxTokenAge", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		v := hmacVerifier(t, clock.Now)
		claims := claimsMap()
		claims["exp"] = t0.Add(30 * 24 * time.Hour).Unix()
		tok := sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", claims)
		verifyOK(t, v, tok)
		clock.Advance(DefaultMaxTokenAge + DefaultLeeway)
		_, err := v.Verify(context.Background(), tok)
		wantUnauthenticated(t, err)
		if got, want := v.verified.len(), 0; got != want {
			t.Fatalf("remembered tokens = %d, want %d", got, want)
		}
	})
}

// TestRememberedTokenIsRefusedOnceItsKeyIsRotatedOut: a token remembered
// under one key set takes the full check when the set is replaced, and is
// refused when its key is gone.
func TestRememberedTokenIsRefusedOnceItsKeyIsRotatedOut(t *testing.T) {
	t.Parallel()
	k := getKeys()
	s := newJWKSServer(t, marshalJWKS(t, jwk(k.p256, "old", ""), jwk(k.p256b, "new", "")))
	clock := newClock()
	v := urlVerifier(t, s, clock)
	oldTok := sign(t, jwt.SigningMethodES256, k.p256, "old", claimsMap())
	newTok := sign(t, jwt.SigningMethodES256, k.p256b, "new", claimsMap())
	verifyOK(t, v, oldTok)
	verifyOK(t, v, newTok)

	s.set(marshalJWKS(t, jwk(k.p256b, "new", "")))
	clock.Advance(DefaultRefreshInterval)
	verifyOK(t, v, newTok) // starts the refresh, served from the cached set
	v.bg.Wait()
	wantFetches(t, s, 2)

	_, err := v.Verify(context.Background(), oldTok)
	wantUnauthenticated(t, err)
	if !errors.Is(err, errUnknownKid) {
		t.Fatalf("refused with %v, want an unknown kid", err)
	}
	verifyOK(t, v, newTok)
}

// TestRememberedTokensAreBounded: the cache never holds more than its size,
// and a token it forgot still verifies (the full way).
func TestRememberedTokensAreBounded(t *testing.T) {
	t.Parallel()
	k := getKeys()
	v := hmacVerifier(t, fixedNow)
	v.verified = newVerified(8)
	var toks []string
	for i := range 20 {
		c := claimsMap()
		c["sub"] = "user-" + string(rune('a'+i))
		toks = append(toks, sign(t, jwt.SigningMethodHS256, k.hmacSecret, "", c))
	}
	for _, tok := range toks {
		verifyOK(t, v, tok)
		if got := v.verified.len(); got > 8 {
			t.Fatalf("remembered tokens = %d, want at most 8", got)
		}
	}
	for _, tok := range toks {
		verifyOK(t, v, tok)
	}
}
