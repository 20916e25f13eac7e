package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// Config is callverifyd's whole configuration. Every field has a flag and a
// CALLVERIFY_* environment variable; a flag given on the command line wins.
type Config struct {
	GRPCAddr      string
	HTTPAddr      string
	DataDir       string
	RedisAddrs    []string
	DefaultRegion string

	// Bearer tokens of callers. With no key source, the embedded default
	// creates a development HMAC secret in DataDir (see `callverify token mint`).
	AuthIssuer         string
	AuthAudience       string
	AuthJWKSFile       string
	AuthJWKSURL        string
	AuthHMACSecretFile string

	// Call tokens this service signs.
	TokenIssuer    string
	TokenAlgorithm string
	TokenX5U       string
	// KEKFile holds the 32-byte key-encryption key for private keys and
	// secrets at rest; created in DataDir when empty.
	KEKFile string

	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	RequestTimeout  time.Duration
	LookupRate      float64
	LookupBurst     int

	// Customers' reports.
	MaxReportsPerDay   int
	AutoBlockReporters int
	AutoBlockWindow    time.Duration
}

type flagSpec struct {
	name, env, def, usage string
	dst                   *string
}

// ParseFlags reads the configuration from args and the environment.
func ParseFlags(name string, args []string, getenv func(string) string) (Config, error) {
	var c Config
	var redis, shutdown, reqTimeout, lookupRate, lookupBurst, maxReports, abReporters, abWindow string
	specs := []flagSpec{
		{"grpc-addr", "CALLVERIFY_GRPC_ADDR", ":9090", "gRPC listen address", &c.GRPCAddr},
		{"http-addr", "CALLVERIFY_HTTP_ADDR", ":8080", "HTTP (REST, health, metrics) listen address", &c.HTTPAddr},
		{"data-dir", "CALLVERIFY_DATA_DIR", "./data", "directory of the embedded store and development keys", &c.DataDir},
		{"redis-addrs", "CALLVERIFY_REDIS_ADDRS", "", "comma-separated Redis addresses; empty = embedded store", &redis},
		{"default-region", "CALLVERIFY_DEFAULT_REGION", "CN", "region for numbers written without a country code", &c.DefaultRegion},
		{"auth-issuer", "CALLVERIFY_AUTH_ISSUER", "", "issuer (iss) of callers' bearer tokens; default: the development issuer", &c.AuthIssuer},
		{"auth-audience", "CALLVERIFY_AUTH_AUDIENCE", "", "audience (aud) of callers' bearer tokens; default: the development audience", &c.AuthAudience},
		{"auth-jwks-file", "CALLVERIFY_AUTH_JWKS_FILE", "", "JWKS file with the identity provider's public keys", &c.AuthJWKSFile},
		{"auth-jwks-url", "CALLVERIFY_AUTH_JWKS_URL", "", "JWKS URL of the identity provider (cached, refreshed)", &c.AuthJWKSURL},
		{"auth-hmac-secret-file", "CALLVERIFY_AUTH_HMAC_SECRET_FILE", "", "HS256 secret shared with the identity provider", &c.AuthHMACSecretFile},
		{"token-issuer", "CALLVERIFY_TOKEN_ISSUER", "callverify", "iss of the call tokens this service signs", &c.TokenIssuer},
		{"token-algorithm", "CALLVERIFY_TOKEN_ALGORITHM", "ES256", "signing algorithm of call tokens: ES256 or EdDSA", &c.TokenAlgorithm},
		{"token-x5u", "CALLVERIFY_TOKEN_X5U", "", "x5u header of call tokens (URL of the certificate), optional", &c.TokenX5U},
		{"kek-file", "CALLVERIFY_KEK_FILE", "", "file with the 32-byte key-encryption key; default: created in the data directory", &c.KEKFile},
		{"log-level", "CALLVERIFY_LOG_LEVEL", "info", "debug, info, warn or error", &c.LogLevel},
		{"log-format", "CALLVERIFY_LOG_FORMAT", "text", "text or json", &c.LogFormat},
		{"shutdown-timeout", "CALLVERIFY_SHUTDOWN_TIMEOUT", "15s", "how long shutdown waits for calls in flight", &shutdown},
		{"request-timeout", "CALLVERIFY_REQUEST_TIMEOUT", "10s", "deadline of every unary request", &reqTimeout},
		{"lookup-rate", "CALLVERIFY_LOOKUP_RATE", "1", "anonymous LookupNumber requests per second per client address", &lookupRate},
		{"lookup-burst", "CALLVERIFY_LOOKUP_BURST", "10", "burst of anonymous LookupNumber requests per client address", &lookupBurst},
		{"max-reports-per-day", "CALLVERIFY_MAX_REPORTS_PER_DAY", "20", "reports one customer may file per day", &maxReports},
		{"auto-block-reporters", "CALLVERIFY_AUTO_BLOCK_REPORTERS", "0", "block a number by itself once this many distinct customers reported it (0 = off)", &abReporters},
		{"auto-block-window", "CALLVERIFY_AUTO_BLOCK_WINDOW", "168h", "the window in which those reports must fall", &abWindow},
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	for _, s := range specs {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		fs.StringVar(s.dst, s.name, def, s.usage+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	for _, d := range []struct {
		flag string
		src  string
		dst  *time.Duration
	}{{"shutdown-timeout", shutdown, &c.ShutdownTimeout}, {"request-timeout", reqTimeout, &c.RequestTimeout}, {"auto-block-window", abWindow, &c.AutoBlockWindow}} {
		v, err := time.ParseDuration(d.src)
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("--%s: %q is not a positive duration such as 10s", d.flag, d.src))
		}
		*d.dst = v
	}
	if _, err := fmt.Sscan(lookupRate, &c.LookupRate); err != nil || c.LookupRate <= 0 {
		errs = append(errs, fmt.Errorf("--lookup-rate: %q is not a positive number", lookupRate))
	}
	if _, err := fmt.Sscan(lookupBurst, &c.LookupBurst); err != nil || c.LookupBurst <= 0 {
		errs = append(errs, fmt.Errorf("--lookup-burst: %q is not a positive whole number", lookupBurst))
	}
	for _, n := range []struct {
		flag, src string
		dst       *int
		min       int
	}{{"max-reports-per-day", maxReports, &c.MaxReportsPerDay, 1}, {"auto-block-reporters", abReporters, &c.AutoBlockReporters, 0}} {
		if _, err := fmt.Sscan(n.src, n.dst); err != nil || *n.dst < n.min {
			errs = append(errs, fmt.Errorf("--%s: %q is not a whole number >= %d", n.flag, n.src, n.min))
		}
	}
	for _, a := range strings.Split(redis, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.RedisAddrs = append(c.RedisAddrs, a)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the configuration and says what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ flag, v string }{{"grpc-addr", c.GRPCAddr}, {"http-addr", c.HTTPAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %q is not host:port (e.g. :9090)", a.flag, a.v))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: must not be empty"))
	}
	if len(c.RedisAddrs) > 0 {
		errs = append(errs, errors.New("--redis-addrs: the Redis backend is not in this build yet; leave it empty to use the embedded store"))
	}
	if _, err := phone.NewParser(c.DefaultRegion); err != nil {
		errs = append(errs, fmt.Errorf("--default-region: %q is not a known region code (e.g. CN, GB, US)", c.DefaultRegion))
	}
	sources := 0
	for _, s := range []string{c.AuthJWKSFile, c.AuthJWKSURL, c.AuthHMACSecretFile} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		errs = append(errs, errors.New("--auth-jwks-file, --auth-jwks-url and --auth-hmac-secret-file: set at most one"))
	case sources == 1 && (c.AuthIssuer == "" || c.AuthAudience == ""):
		errs = append(errs, errors.New("--auth-issuer and --auth-audience: required with an identity provider's keys"))
	case sources == 0 && (c.AuthIssuer != "" || c.AuthAudience != ""):
		errs = append(errs, errors.New("--auth-issuer/--auth-audience: set a key source too (--auth-jwks-file, --auth-jwks-url or --auth-hmac-secret-file)"))
	}
	switch c.TokenAlgorithm {
	case "ES256", "EdDSA":
	default:
		errs = append(errs, fmt.Errorf("--token-algorithm: %q is not ES256 or EdDSA", c.TokenAlgorithm))
	}
	if c.TokenIssuer == "" {
		errs = append(errs, errors.New("--token-issuer: must not be empty"))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format: %q is not text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// Getenv is os.Getenv, for callers of ParseFlags.
var Getenv = os.Getenv
