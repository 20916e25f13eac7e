package app

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/callverify/callverify/internal/netlimit"
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

	Edge EdgeConfig
}

// ---- Edge: connection caps, deadlines and anonymous-lookup limits ----
// (issue 14, items 4 and 5; flags in edgeFlagSpecs, parsed by parseEdge.)

// EdgeConfig bounds what a client may hold at the network edge. See
// server.EdgeConfig for what each limit does.
type EdgeConfig struct {
	// MaxConns caps open connections of both listeners together; 0 = four
	// fifths of the open-file limit (which callverifyd raises to its hard
	// limit at start).
	MaxConns int
	// MaxConnsPerAddr caps open connections of one client address (an IPv6
	// client by its /64); trusted proxies are exempt.
	MaxConnsPerAddr int
	// TrustedProxies are CIDR ranges whose X-Forwarded-For is believed.
	TrustedProxies []string

	HTTPReadHeaderTimeout    time.Duration
	HTTPReadTimeout          time.Duration
	HTTPWriteTimeout         time.Duration
	HTTPIdleTimeout          time.Duration
	StreamIdleTimeout        time.Duration
	GRPCHandshakeTimeout     time.Duration
	GRPCMaxConnectionIdle    time.Duration
	GRPCMaxConcurrentStreams int

	// LookupGlobalRate and LookupGlobalBurst cap anonymous lookups of all
	// clients together on this instance; LookupMaxClients bounds the client
	// addresses the limiter remembers.
	LookupGlobalRate  float64
	LookupGlobalBurst int
	LookupMaxClients  int
}

// edgeFlags holds the raw flag values of the edge block.
type edgeFlags struct {
	maxConns, maxConnsPerAddr, trustedProxies                                   string
	readHeader, read, write, idle, streamIdle, handshake, grpcIdle, grpcStreams string
	globalRate, globalBurst, maxClients                                         string
}

func edgeFlagSpecs(f *edgeFlags) []flagSpec {
	return []flagSpec{
		{"max-conns", "CALLVERIFY_MAX_CONNS", "0", "open connections of both listeners together; 0 = 4/5 of the open-file limit", &f.maxConns},
		{"max-conns-per-addr", "CALLVERIFY_MAX_CONNS_PER_ADDR", "256", "open connections of one client address (IPv6: its /64); trusted proxies are exempt", &f.maxConnsPerAddr},
		{"trusted-proxies", "CALLVERIFY_TRUSTED_PROXIES", "", "comma-separated CIDR ranges of proxies whose X-Forwarded-For is believed; empty = none", &f.trustedProxies},
		{"http-read-header-timeout", "CALLVERIFY_HTTP_READ_HEADER_TIMEOUT", "5s", "time for an HTTP request's headers to arrive", &f.readHeader},
		{"http-read-timeout", "CALLVERIFY_HTTP_READ_TIMEOUT", "30s", "time for a whole unary HTTP request to arrive", &f.read},
		{"http-write-timeout", "CALLVERIFY_HTTP_WRITE_TIMEOUT", "30s", "time to answer a unary HTTP request (longer than --request-timeout)", &f.write},
		{"http-idle-timeout", "CALLVERIFY_HTTP_IDLE_TIMEOUT", "60s", "how long an idle keep-alive HTTP connection is kept", &f.idle},
		{"stream-idle-timeout", "CALLVERIFY_STREAM_IDLE_TIMEOUT", "60s", "how long an import, export or watch stream may go without a byte moving", &f.streamIdle},
		{"grpc-handshake-timeout", "CALLVERIFY_GRPC_HANDSHAKE_TIMEOUT", "5s", "time for a gRPC connection to finish its HTTP/2 handshake", &f.handshake},
		{"grpc-max-connection-idle", "CALLVERIFY_GRPC_MAX_CONNECTION_IDLE", "5m", "a gRPC connection with no RPC this long is sent away", &f.grpcIdle},
		{"grpc-max-concurrent-streams", "CALLVERIFY_GRPC_MAX_CONCURRENT_STREAMS", "128", "concurrent RPCs on one gRPC connection", &f.grpcStreams},
		{"lookup-global-rate", "CALLVERIFY_LOOKUP_GLOBAL_RATE", "100", "anonymous LookupNumber requests per second of all clients together, per instance", &f.globalRate},
		{"lookup-global-burst", "CALLVERIFY_LOOKUP_GLOBAL_BURST", "200", "their burst", &f.globalBurst},
		{"lookup-max-clients", "CALLVERIFY_LOOKUP_MAX_CLIENTS", "100000", "client addresses the lookup limiter remembers (the least recently seen is forgotten first)", &f.maxClients},
	}
}

// parseEdge reads the edge block strictly (strconv, not fmt.Sscan: "10x"
// is an error naming the flag).
func parseEdge(f *edgeFlags, e *EdgeConfig) []error {
	var errs []error
	for _, d := range []struct {
		flag, src string
		dst       *time.Duration
	}{
		{"http-read-header-timeout", f.readHeader, &e.HTTPReadHeaderTimeout},
		{"http-read-timeout", f.read, &e.HTTPReadTimeout},
		{"http-write-timeout", f.write, &e.HTTPWriteTimeout},
		{"http-idle-timeout", f.idle, &e.HTTPIdleTimeout},
		{"stream-idle-timeout", f.streamIdle, &e.StreamIdleTimeout},
		{"grpc-handshake-timeout", f.handshake, &e.GRPCHandshakeTimeout},
		{"grpc-max-connection-idle", f.grpcIdle, &e.GRPCMaxConnectionIdle},
	} {
		v, err := time.ParseDuration(d.src)
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("--%s: %q is not a positive duration such as 10s", d.flag, d.src))
		}
		*d.dst = v
	}
	for _, n := range []struct {
		flag, src string
		dst       *int
		min       int
	}{
		{"max-conns", f.maxConns, &e.MaxConns, 0},
		{"max-conns-per-addr", f.maxConnsPerAddr, &e.MaxConnsPerAddr, 1},
		{"grpc-max-concurrent-streams", f.grpcStreams, &e.GRPCMaxConcurrentStreams, 1},
		{"lookup-global-burst", f.globalBurst, &e.LookupGlobalBurst, 1},
		{"lookup-max-clients", f.maxClients, &e.LookupMaxClients, 1},
	} {
		v, err := strconv.Atoi(strings.TrimSpace(n.src))
		if err != nil || v < n.min {
			errs = append(errs, fmt.Errorf("--%s: %q is not a whole number >= %d", n.flag, n.src, n.min))
		}
		*n.dst = v
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(f.globalRate), 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		errs = append(errs, fmt.Errorf("--lookup-global-rate: %q is not a positive number", f.globalRate))
	}
	e.LookupGlobalRate = v
	for _, c := range strings.Split(f.trustedProxies, ",") {
		if c = strings.TrimSpace(c); c != "" {
			e.TrustedProxies = append(e.TrustedProxies, c)
		}
	}
	return errs
}

// validate checks the edge block against the rest of the configuration.
func (e EdgeConfig) validate(requestTimeout time.Duration) []error {
	var errs []error
	if _, err := netlimit.ParseProxies(e.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	if e.HTTPWriteTimeout <= requestTimeout {
		errs = append(errs, fmt.Errorf("--http-write-timeout: %v must be longer than --request-timeout (%v), or answers are cut off", e.HTTPWriteTimeout, requestTimeout))
	}
	if e.GRPCMaxConcurrentStreams > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("--grpc-max-concurrent-streams: %d is too large", e.GRPCMaxConcurrentStreams))
	}
	return errs
}

// ---- end of the edge block ----

type flagSpec struct {
	name, env, def, usage string
	dst                   *string
}

// ParseFlags reads the configuration from args and the environment.
func ParseFlags(name string, args []string, getenv func(string) string) (Config, error) {
	var c Config
	var edge edgeFlags
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
	specs = append(specs, edgeFlagSpecs(&edge)...)
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
	errs = append(errs, parseEdge(&edge, &c.Edge)...)
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
	errs = append(errs, c.Edge.validate(c.RequestTimeout)...)
	return errors.Join(errs...)
}

// Getenv is os.Getenv, for callers of ParseFlags.
var Getenv = os.Getenv
