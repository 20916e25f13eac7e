package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/secretfile"
)

// ErrUnauthenticated is wrapped by every error Verify and BearerToken
// return. The wrapped detail says why verification failed; it is meant for
// server logs, not for the caller, and never contains the token.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrExpired is wrapped, beside ErrUnauthenticated, when a token is refused
// only because its time is up: its signature is good and it would have
// been accepted at its own expiry, but exp has passed or it was issued
// longer than the maximum age ago. The caller may be told so (a forged or
// foreign token never gets this answer), so that it fetches a new token
// instead of reporting a fault.
var ErrExpired = errors.New("the token has expired")

// MaxTokenLength is the longest token, in bytes, that Verify will parse.
const MaxTokenLength = 8 << 10

// tokenClaims is the claim set callverify reads (and Mint writes).
type tokenClaims struct {
	jwt.RegisteredClaims
	Role        string `json:"role"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

// Validate implements jwt.ClaimsValidator; the parser calls it after the
// signature and the registered claims have been checked.
func (c *tokenClaims) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Subject) == "" {
		errs = append(errs, errors.New("sub claim is missing or empty"))
	}
	switch r := Role(c.Role); {
	case c.Role == "":
		errs = append(errs, errors.New("role claim is missing or empty"))
	case !r.Valid():
		errs = append(errs, fmt.Errorf("role claim %q is not a known role", phone.Mask(c.Role)))
	case r == RoleCustomer && c.PhoneNumber == "":
		errs = append(errs, errors.New("customer token has no phone_number claim"))
	}
	if len(errs) == 0 {
		return nil
	}
	return problemList(errs)
}

// Verifier checks bearer tokens against one key source. It is safe for
// concurrent use.
type Verifier struct {
	now    func() time.Time
	parser *jwt.Parser
	// opts are the parser's options, for the expiry check (expiredOnly).
	opts []jwt.ParserOption
	// claimsCheck is the parser's own claim validator (same options), run
	// again on every use of a remembered token.
	claimsCheck *jwt.Validator
	verified    *verified
	// A token issued longer than maxAge+leeway ago is refused, whatever its exp.
	maxAge, leeway time.Duration

	hmacSecret []byte // HMACSecretFile source

	keys atomic.Pointer[keySet] // JWKSFile and JWKSURL sources

	// JWKSURL source only.
	jwksURL         string
	client          *http.Client
	refreshInterval time.Duration
	fetchSem        chan struct{} // one JWKS fetch at a time
	lastAttempt     atomic.Int64  // Verifier-clock UnixNano of the last fetch attempt
	refreshing      atomic.Bool   // a background refresh is pending or running
	bg              sync.WaitGroup
}

// NewVerifier validates cfg and loads its key source: it reads the JWKS or
// secret file, or does the first JWKS fetch (bounded by ctx and a 10s
// timeout). It fails with a descriptive error if the source is unusable.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	v.leeway, v.maxAge = leeway, cfg.MaxTokenAge
	if v.maxAge == 0 {
		v.maxAge = DefaultMaxTokenAge
	}

	var methods []string
	switch {
	case cfg.HMACSecretFile != "":
		secret, err := LoadHMACSecret(cfg.HMACSecretFile)
		if err != nil {
			return nil, err
		}
		v.hmacSecret = secret
		methods = []string{jwt.SigningMethodHS256.Alg()}

	case cfg.JWKSFile != "":
		// Public keys, but whoever can change them can sign bearer tokens.
		if err := secretfile.CheckPublic(cfg.JWKSFile); err != nil {
			return nil, fmt.Errorf("auth: reading JWKS file: %w", err)
		}
		data, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: reading JWKS file: %w", err)
		}
		ks, err := parseJWKS(data, true)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS file %s: %w", cfg.JWKSFile, err)
		}
		ks.fetchedAt = v.now()
		v.keys.Store(ks)
		// The file never changes under us, so only its key types' algs are valid.
		methods = ks.algs()

	case cfg.JWKSURL != "":
		v.jwksURL = cfg.JWKSURL
		v.client = cfg.HTTPClient
		if v.client == nil {
			v.client = &http.Client{Timeout: jwksFetchTimeout}
		}
		v.refreshInterval = cfg.RefreshInterval
		if v.refreshInterval == 0 {
			v.refreshInterval = DefaultRefreshInterval
		}
		v.fetchSem = make(chan struct{}, 1)
		if err := v.fetchKeys(ctx); err != nil {
			return nil, fmt.Errorf("auth: initial JWKS fetch: %w", err)
		}
		// The served set may rotate to another key type, so the parser admits
		// every JWKS algorithm; the key lookup still only lets a token through
		// with an alg that matches the selected key's type (and its JWK alg).
		methods = jwksAlgs
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(v.now),
	}
	v.parser = jwt.NewParser(opts...)
	v.opts = opts
	v.claimsCheck = jwt.NewValidator(opts...)
	v.verified = newVerified(verifiedTokens)
	return v, nil
}

// Verify checks a raw token (no "Bearer " prefix) and returns its
// Principal. Every failure wraps ErrUnauthenticated.
func (v *Verifier) Verify(ctx context.Context, bearer string) (*Principal, error) {
	if bearer == "" {
		return nil, fmt.Errorf("%w: empty token", ErrUnauthenticated)
	}
	if len(bearer) > MaxTokenLength {
		return nil, fmt.Errorf("%w: token is %d bytes, longer than the %d-byte limit", ErrUnauthenticated, len(bearer), MaxTokenLength)
	}
	if v.jwksURL != "" {
		v.maybeRefreshInBackground()
	}

	h := sha256.Sum256([]byte(bearer))
	if e, ok := v.verified.get(h); ok {
		if e.keys == v.keys.Load() && v.claimsCheck.Validate(&e.claims) == nil && v.checkAge(e.claims.IssuedAt) == nil {
			return principalOf(&e.claims), nil
		}
		// Expired, rotated out, or not yet valid: the full check says why.
		v.verified.drop(h)
	}

	var c tokenClaims
	var keys *keySet // the set the token's key came from
	_, err := v.parser.ParseWithClaims(bearer, &c, func(t *jwt.Token) (any, error) {
		return v.key(ctx, &keys, t)
	})
	if err == nil {
		if err = v.checkAge(c.IssuedAt); err != nil && c.IssuedAt != nil {
			err = expiredError{err} // too old; a missing iat is no expiry
		}
	} else if v.expiredOnly(err, &c) {
		err = expiredError{err}
	}
	if err != nil {
		return nil, &refusal{reason: err, claims: c}
	}
	v.verified.put(h, verifiedEntry{claims: c, keys: keys})
	return principalOf(&c), nil
}

// expiredError marks a refusal as ErrExpired; its message is the reason's.
type expiredError struct{ reason error }

func (e expiredError) Error() string   { return e.reason.Error() }
func (e expiredError) Unwrap() []error { return []error{ErrExpired, e.reason} }

// expiredOnly reports whether a token the parser refused with err is
// refused for its time alone: its signature verified (the parser validates
// claims only then) and every claim passes at the moment of its expiry.
func (v *Verifier) expiredOnly(err error, c *tokenClaims) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) || !errors.Is(err, jwt.ErrTokenInvalidClaims) ||
		errors.Is(err, jwt.ErrTokenSignatureInvalid) || c.ExpiresAt == nil {
		return false
	}
	at := c.ExpiresAt.Time
	check := jwt.NewValidator(append(v.opts[:len(v.opts):len(v.opts)], jwt.WithTimeFunc(func() time.Time { return at }))...)
	return check.Validate(c) == nil
}

// principalOf is the Principal of verified claims.
func principalOf(c *tokenClaims) *Principal {
	p := &Principal{Subject: c.Subject, Role: Role(c.Role)}
	if c.ExpiresAt != nil { // always set: WithExpirationRequired
		p.ExpiresAt = c.ExpiresAt.UTC()
	}
	if p.Role == RoleCustomer {
		p.PhoneNumber = c.PhoneNumber
	}
	return p
}

// checkAge requires iat and refuses a token issued longer than maxAge ago
// (the parser has already refused one issued in the future): a stolen token
// with a far exp is useful to nobody for long.
func (v *Verifier) checkAge(iat *jwt.NumericDate) error {
	if iat == nil {
		return fmt.Errorf("%w: iat claim is required", jwt.ErrTokenRequiredClaimMissing)
	}
	if age := v.now().Sub(iat.Time); age > v.maxAge+v.leeway {
		return fmt.Errorf("token was issued %s ago, more than the %s allowed", age.Truncate(time.Second), v.maxAge)
	}
	return nil
}

// key is the jwt.Keyfunc: it runs after the parser has checked that the
// token's alg is one of the allowed methods.
// It sets *from to the key set the key was taken from (nil for the HMAC
// secret).
func (v *Verifier) key(ctx context.Context, from **keySet, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New(`token has a "crit" header, and no critical extension is supported`)
	}
	if v.hmacSecret != nil {
		return v.hmacSecret, nil
	}

	var kid string
	raw, hasKid := t.Header["kid"]
	if hasKid {
		s, ok := raw.(string)
		if !ok {
			return nil, errors.New("kid header is not a string")
		}
		kid = s
	}
	alg := t.Method.Alg()

	ks := v.keys.Load()
	key, err := ks.lookup(kid, hasKid, alg)
	if errors.Is(err, errUnknownKid) && v.jwksURL != "" {
		ferr := v.refreshForUnknownKid(ctx)
		// Look again even if this call did not fetch: another one may have.
		ks = v.keys.Load()
		key, err = ks.lookup(kid, hasKid, alg)
		if err != nil && ferr != nil {
			err = fmt.Errorf("%w (key set refresh: %w)", err, ferr)
		}
	}
	*from = ks
	return key, err
}

var errRefreshRateLimited = errors.New("skipped, the key set was fetched less than 30s ago")

// refreshForUnknownKid fetches the JWKS again unless a fetch was attempted
// within minRefreshGap.
func (v *Verifier) refreshForUnknownKid(ctx context.Context) error {
	select {
	case v.fetchSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-v.fetchSem }()
	if !v.mayFetch(v.now()) {
		return errRefreshRateLimited
	}
	return v.fetchLocked(ctx)
}

// maybeRefreshInBackground starts a refresh when the cached set is older
// than refreshInterval; the request carries on with the cached set.
func (v *Verifier) maybeRefreshInBackground() {
	if !v.stale(v.now()) || !v.refreshing.CompareAndSwap(false, true) {
		return
	}
	v.bg.Add(1)
	go func() {
		defer v.bg.Done()
		defer v.refreshing.Store(false)
		v.fetchSem <- struct{}{}
		defer func() { <-v.fetchSem }()
		if v.stale(v.now()) { // nobody refreshed while we waited
			_ = v.fetchLocked(context.Background())
		}
	}()
}

// stale reports whether the cached set is due for a periodic refresh and
// the fetch rate limit allows one.
func (v *Verifier) stale(now time.Time) bool {
	return now.Sub(v.keys.Load().fetchedAt) >= v.refreshInterval && v.mayFetch(now)
}

func (v *Verifier) mayFetch(now time.Time) bool {
	return now.Sub(time.Unix(0, v.lastAttempt.Load())) >= minRefreshGap
}

// fetchKeys takes the fetch lock and fetches.
func (v *Verifier) fetchKeys(ctx context.Context) error {
	select {
	case v.fetchSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-v.fetchSem }()
	return v.fetchLocked(ctx)
}

// fetchLocked fetches the JWKS and, on success, replaces the cached set. On
// failure the cached set stays. The caller holds fetchSem.
func (v *Verifier) fetchLocked(ctx context.Context) error {
	v.lastAttempt.Store(v.now().UnixNano())
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	ks, err := fetchJWKS(ctx, v.client, v.jwksURL)
	if err != nil {
		return err
	}
	ks.fetchedAt = v.now()
	v.keys.Store(ks)
	return nil
}
