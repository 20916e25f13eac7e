package auth

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by NewVerifier when the corresponding Config field is zero.
const (
	DefaultRefreshInterval = 15 * time.Minute
	DefaultLeeway          = 30 * time.Second
	DefaultMaxTokenAge     = 24 * time.Hour
)

// Config says how a Verifier checks tokens. Exactly one key source
// (JWKSFile, JWKSURL or HMACSecretFile) must be set.
type Config struct {
	Issuer   string // required, checked with jwt.WithIssuer
	Audience string // required, checked with jwt.WithAudience

	// JWKSFile is the path of a JWKS JSON document holding RSA (>= 2048
	// bits), EC P-256/P-384 or Ed25519 public keys. It is read once, by
	// NewVerifier; every key in it must be usable.
	JWKSFile string
	// JWKSURL is fetched over HTTPS (plain HTTP only for loopback hosts) and
	// cached. The cache is refreshed every RefreshInterval (in the
	// background, triggered by traffic) and, when a token names an unknown
	// kid, at most once per 30s. A failed refresh keeps the cached set.
	// Keys in the fetched set that this package cannot use are skipped.
	JWKSURL string
	// HMACSecretFile is the path of a raw HS256 shared secret (at least 32
	// bytes, used as is, trailing newline included).
	HMACSecretFile string

	RefreshInterval time.Duration // JWKSURL only; default 15m
	Leeway          time.Duration // clock skew allowed on exp/nbf/iat; default 30s
	// MaxTokenAge refuses a token issued (iat, which is required) longer
	// than this (plus Leeway) ago, whatever its exp; default 24h.
	MaxTokenAge time.Duration
	HTTPClient  *http.Client     // JWKSURL only; default has a 10s timeout
	Now         func() time.Time // optional clock, for tests; default time.Now
}

// Validate reports every problem with c in one error: exactly one key source
// must be set, Issuer and Audience must be non-empty, durations must not be
// negative and JWKSURL must be an absolute https URL (http is accepted for
// loopback hosts only).
func (c Config) Validate() error {
	var problems []string
	if strings.TrimSpace(c.Issuer) == "" {
		problems = append(problems, "Issuer is required")
	}
	if strings.TrimSpace(c.Audience) == "" {
		problems = append(problems, "Audience is required")
	}

	var sources []string
	if c.JWKSFile != "" {
		sources = append(sources, "JWKSFile")
	}
	if c.JWKSURL != "" {
		sources = append(sources, "JWKSURL")
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if c.HMACSecretFile != "" {
		sources = append(sources, "HMACSecretFile")
	}
	switch len(sources) {
	case 0:
		problems = append(problems, "no key source: set exactly one of JWKSFile, JWKSURL or HMACSecretFile")
	case 1:
	default:
		problems = append(problems, "several key sources set ("+strings.Join(sources, ", ")+"): set exactly one of JWKSFile, JWKSURL or HMACSecretFile")
	}

	if c.RefreshInterval < 0 {
		problems = append(problems, "RefreshInterval must not be negative")
	}
	if c.Leeway < 0 {
		problems = append(problems, "Leeway must not be negative")
	}
	if c.MaxTokenAge < 0 {
		problems = append(problems, "MaxTokenAge must not be negative")
	}

	if len(problems) > 0 {
		return errors.New("auth: invalid config: " + strings.Join(problems, "; "))
	}
	return nil
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("JWKSURL is not a valid URL")
	}
	if u.Host == "" {
		return errors.New("JWKSURL must be an absolute http(s) URL with a host")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return errors.New("JWKSURL must use https (plain http is accepted only for loopback hosts)")
	default:
		return errors.New("JWKSURL must be an absolute http(s) URL with a host")
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
