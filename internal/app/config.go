package app

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/netlimit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redisconn"
)

// Config is callverifyd's whole configuration. Every field has a flag and a
// CALLVERIFY_* environment variable (see bind); a flag given on the command
// line wins.
type Config struct {
	GRPCAddr      string
	HTTPAddr      string
	DataDir       string
	RedisAddrs    []string
	DefaultRegion string

	// Redis, when RedisAddrs is set: see RedisConfig.
	RedisMasterName    string
	RedisUsername      string
	RedisPasswordFile  string
	RedisDB            int
	RedisTLS           bool
	RedisTLSCAFile     string
	RedisTLSServerName string
	// RedisKeyPrefix starts every key (docs/redis.md), so that several
	// deployments can share one Redis.
	RedisKeyPrefix string
	// RedisJSONRecords writes calls and blocklist entries in the JSON of
	// the versions before protobuf records, for a rolling upgrade from one
	// of them.
	RedisJSONRecords bool

	// Dev accepts bearer tokens of the development issuer, whose secret is
	// created in DataDir (see callverify token mint). It excludes an
	// identity provider's keys, which are required without it.
	Dev bool

	// Bearer tokens of callers: an identity provider's keys.
	AuthIssuer         string
	AuthAudience       string
	AuthJWKSFile       string
	AuthJWKSURL        string
	AuthHMACSecretFile string
	// AuthMaxTokenAge refuses tokens issued (iat) longer ago than this.
	AuthMaxTokenAge time.Duration

	// Call tokens this service signs.
	TokenIssuer    string
	TokenAlgorithm string
	TokenX5U       string
	// KEKFile holds the 32-byte key-encryption key for private keys and
	// secrets at rest; created in DataDir when empty.
	KEKFile string
	// HMACKeysFile holds the HMAC keys that turn customers' numbers into
	// store keys, one base64 key a line, the first writing; without it one
	// key is derived from the KEK.
	HMACKeysFile string

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

	// IndexMaxLag: readiness fails while the blocklist index is further
	// behind the store than this.
	IndexMaxLag time.Duration
	// Retention: how long calls (after their expiry) and customers'
	// reports (after a group's last report) are kept; a sweeper deletes
	// them every RetentionSweepInterval.
	CallRetention          time.Duration
	ReportRetention        time.Duration
	RetentionSweepInterval time.Duration
	// Live call cards (WatchMyCalls): how long call events are kept for a
	// stream to resume after a reconnect, how often an idle stream sends a
	// heartbeat, and how many streams one customer may hold open (on
	// Redis, across every instance).
	WatchRetention   time.Duration
	WatchHeartbeat   time.Duration
	WatchPerCustomer int

	// Callbacks: how many requests a customer may have open, how long a
	// request waits, how long a claim holds one, how long a final one is
	// kept, and the time zone of "the callback you asked for at 14:02".
	CallbackMaxOpen      int
	CallbackTTL          time.Duration
	CallbackClaimTimeout time.Duration
	CallbackRetention    time.Duration
	TimeZone             string

	Edge EdgeConfig
}

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

// bind declares every setting with its default and help: adding one is a
// field above and one line here. Its environment variable is the flag's
// name in upper case with '_' for '-', after CALLVERIFY_.
func (c *Config) bind(f flags) {
	f.String(&c.GRPCAddr, "grpc-addr", ":9090", "gRPC listen address")
	f.String(&c.HTTPAddr, "http-addr", ":8080", "HTTP (REST, health, metrics) listen address")
	f.String(&c.DataDir, "data-dir", "./data", "directory of the embedded store and keys; only its owner may enter it (chmod 700)")
	f.Strings(&c.RedisAddrs, "redis-addrs", nil, "comma-separated Redis addresses: one = a server, several = a Redis Cluster's nodes, or the sentinels with --redis-master-name; empty = embedded store")
	f.String(&c.RedisMasterName, "redis-master-name", "", "name of the master the sentinels at --redis-addrs monitor (Redis Sentinel)")
	f.String(&c.RedisUsername, "redis-username", "", "Redis ACL user; empty = the default user")
	f.String(&c.RedisPasswordFile, "redis-password-file", "", "file with the Redis password, one line (mode 0600)")
	f.Int(&c.RedisDB, "redis-db", 0, "Redis database number (not with a Redis Cluster, which has only 0)")
	f.Bool(&c.RedisTLS, "redis-tls", false, "connect to Redis over TLS, verifying its certificate")
	f.String(&c.RedisTLSCAFile, "redis-tls-ca-file", "", "PEM file of the CAs of Redis's certificates; empty = the system's")
	f.String(&c.RedisTLSServerName, "redis-tls-server-name", "", "name Redis's certificate must carry; empty = the host of each address")
	f.String(&c.RedisKeyPrefix, "redis-key-prefix", "cv", "prefix of every Redis key (letters, digits, '-', '_'), so deployments can share one Redis")
	f.Bool(&c.RedisJSONRecords, "redis-json-records", false, "write calls and blocklist entries as JSON, the format of versions before protobuf records, while such instances still run (a rolling upgrade; every version since reads both)")
	f.String(&c.DefaultRegion, "default-region", "CN", "region for numbers written without a country code")
	f.Bool(&c.Dev, "dev", false, "accept bearer tokens of the development issuer (callverify token mint), for local use; excludes --auth-*")
	f.String(&c.AuthIssuer, "auth-issuer", "", "issuer (iss) of callers' bearer tokens")
	f.String(&c.AuthAudience, "auth-audience", "", "audience (aud) of callers' bearer tokens")
	f.String(&c.AuthJWKSFile, "auth-jwks-file", "", "JWKS file with the identity provider's public keys")
	f.String(&c.AuthJWKSURL, "auth-jwks-url", "", "JWKS URL of the identity provider (cached, refreshed)")
	f.String(&c.AuthHMACSecretFile, "auth-hmac-secret-file", "", "HS256 secret shared with the identity provider (mode 0600)")
	f.Duration(&c.AuthMaxTokenAge, "auth-max-token-age", auth.DefaultMaxTokenAge, "refuse bearer tokens issued (iat) longer ago than this, whatever their exp")
	f.String(&c.TokenIssuer, "token-issuer", "callverify", "iss of the call tokens this service signs")
	f.String(&c.TokenAlgorithm, "token-algorithm", "ES256", "signing algorithm of call tokens: ES256 or EdDSA")
	f.String(&c.TokenX5U, "token-x5u", "", "x5u header of call tokens (URL of the certificate), optional")
	f.String(&c.KEKFile, "kek-file", "", "file with the 32-byte key-encryption key (mode 0600); default: created in the data directory")
	f.String(&c.HMACKeysFile, "hmac-keys-file", "", "file of HMAC keys for customers' numbers in the store, one base64 key (>= 32 bytes) a line, the first writes, all are read (mode 0600); default: one key derived from the KEK")
	f.String(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.String(&c.LogFormat, "log-format", "text", "text or json")
	f.Duration(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long shutdown waits for calls in flight")
	f.Duration(&c.RequestTimeout, "request-timeout", 10*time.Second, "deadline of every unary request")
	f.Float(&c.LookupRate, "lookup-rate", 1, "anonymous LookupNumber requests per second per client address")
	f.Int(&c.LookupBurst, "lookup-burst", 10, "burst of anonymous LookupNumber requests per client address")
	f.Int(&c.MaxReportsPerDay, "max-reports-per-day", 20, "reports one customer may file per day")
	f.Int(&c.AutoBlockReporters, "auto-block-reporters", 0, "block a number by itself once this many distinct customers reported it (0 = off)")
	f.Duration(&c.AutoBlockWindow, "auto-block-window", 168*time.Hour, "the window in which those reports must fall")
	f.Duration(&c.IndexMaxLag, "index-max-lag", 5*time.Second, "not ready while the in-memory blocklist index is further behind the store than this")
	f.Duration(&c.CallRetention, "call-retention", 168*time.Hour, "how long a call is kept after it expires (ended and locked calls ended earlier, so they are kept longer); no token verifies after its call's expiry")
	f.Duration(&c.ReportRetention, "report-retention", 2160*time.Hour, "how long customers' reports are kept, and an OPEN or DISMISSED number's group after its last report; BLOCKED groups stay")
	f.Duration(&c.RetentionSweepInterval, "retention-sweep-interval", time.Hour, "how often the sweeper deletes calls and reports past their retention")
	f.Int(&c.CallbackMaxOpen, "callback-max-open", 3, "callback requests one customer may have open (waiting for a call) at once")
	f.Duration(&c.CallbackTTL, "callback-ttl", 24*time.Hour, "how long a callback request waits for a call before it expires (longer when its preferred window ends later)")
	f.Duration(&c.CallbackClaimTimeout, "callback-claim-timeout", 15*time.Minute, "how long a dialer's claim holds a callback request; not answered by a call by then, it goes back to the queue")
	f.Duration(&c.CallbackRetention, "callback-retention", 720*time.Hour, "how long a callback request is kept after it was called, cancelled or expired")
	f.String(&c.TimeZone, "time-zone", "Asia/Shanghai", "IANA time zone of the times shown to customers (\"the callback you asked for at 14:02\")")
	f.Duration(&c.WatchRetention, "watch-retention", 24*time.Hour, "how long call events are kept, so that a live call stream resumes after a reconnect without losing one; an older position gets a RESET")
	f.Duration(&c.WatchHeartbeat, "watch-heartbeat", 15*time.Second, "how often an idle live call stream sends a heartbeat; must be shorter than --stream-idle-timeout")
	f.Int(&c.WatchPerCustomer, "watch-max-per-customer", 3, "live call streams one customer may hold open (on Redis, across every instance)")

	// The edge: connection caps, deadlines and anonymous-lookup limits.
	e := &c.Edge
	f.Int(&e.MaxConns, "max-conns", 0, "open connections of both listeners together; 0 = 4/5 of the open-file limit")
	f.Int(&e.MaxConnsPerAddr, "max-conns-per-addr", 256, "open connections of one client address (IPv6: its /64); trusted proxies are exempt")
	f.Strings(&e.TrustedProxies, "trusted-proxies", nil, "comma-separated CIDR ranges of proxies whose X-Forwarded-For is believed; empty = none")
	f.Duration(&e.HTTPReadHeaderTimeout, "http-read-header-timeout", 5*time.Second, "time for an HTTP request's headers to arrive")
	f.Duration(&e.HTTPReadTimeout, "http-read-timeout", 30*time.Second, "time for a whole unary HTTP request to arrive")
	f.Duration(&e.HTTPWriteTimeout, "http-write-timeout", 30*time.Second, "time to answer a unary HTTP request (longer than --request-timeout)")
	f.Duration(&e.HTTPIdleTimeout, "http-idle-timeout", 60*time.Second, "how long an idle keep-alive HTTP connection is kept")
	f.Duration(&e.StreamIdleTimeout, "stream-idle-timeout", 60*time.Second, "how long an import, export or watch stream may go without a byte moving")
	f.Duration(&e.GRPCHandshakeTimeout, "grpc-handshake-timeout", 5*time.Second, "time for a gRPC connection to finish its HTTP/2 handshake")
	f.Duration(&e.GRPCMaxConnectionIdle, "grpc-max-connection-idle", 5*time.Minute, "a gRPC connection with no RPC this long is sent away")
	f.Int(&e.GRPCMaxConcurrentStreams, "grpc-max-concurrent-streams", 128, "concurrent RPCs on one gRPC connection")
	f.Float(&e.LookupGlobalRate, "lookup-global-rate", 100, "anonymous LookupNumber requests per second of all clients together, per instance")
	f.Int(&e.LookupGlobalBurst, "lookup-global-burst", 200, "their burst")
	f.Int(&e.LookupMaxClients, "lookup-max-clients", 100000, "client addresses the lookup limiter remembers (the least recently seen is forgotten first)")
}

// newFlagSet binds c's settings to a silent flag set: the caller reports
// errors and prints Usage.
func newFlagSet(name string, c *Config) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	c.bind(flags{fs})
	return fs
}

// ParseFlags reads the configuration from args (GNU style, --flag value or
// --flag=value) and from the environment through getenv. A variable is
// parsed by its flag's own parser, unless the flag is on the command line.
// -h or --help returns pflag.ErrHelp; print Usage then.
func ParseFlags(name string, args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := newFlagSet(name, &c)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		env := envName(f.Name)
		v := getenv(env)
		if f.Changed || v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q of %s (flag --%s): %w", v, env, f.Name, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Usage is the help text of callverifyd's flags.
func Usage(name string) string {
	var c Config
	return "Usage: " + name + " [flags]\n\nEvery flag can also be set by the environment variable shown; the flag wins.\n\n" +
		strings.TrimSuffix(newFlagSet(name, &c).FlagUsages(), "\n") + "\n"
}

// setting names a flag and its variable in an error.
func setting(flag string) string { return "--" + flag + " (" + envName(flag) + ")" }

// Validate checks the configuration and says what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ flag, v string }{{"grpc-addr", c.GRPCAddr}, {"http-addr", c.HTTPAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port (e.g. :9090)", setting(a.flag), a.v))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, fmt.Errorf("%s: must not be empty", setting("data-dir")))
	}
	errs = append(errs, c.validateRedis()...)
	errs = append(errs, c.validateSharedKeys()...)
	if _, err := phone.NewParser(c.DefaultRegion); err != nil {
		errs = append(errs, fmt.Errorf("%s: %q is not a known region code (e.g. CN, GB, US)", setting("default-region"), c.DefaultRegion))
	}
	errs = append(errs, c.validateAuth()...)
	switch c.TokenAlgorithm {
	case "ES256", "EdDSA":
	default:
		errs = append(errs, fmt.Errorf("%s: %q is not ES256 or EdDSA", setting("token-algorithm"), c.TokenAlgorithm))
	}
	if c.TokenIssuer == "" {
		errs = append(errs, fmt.Errorf("%s: must not be empty", setting("token-issuer")))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("%s: %q is not debug, info, warn or error", setting("log-level"), c.LogLevel))
	}
	if c.CallbackMaxOpen < 1 {
		errs = append(errs, fmt.Errorf("%s: %d is not a positive number", setting("callback-max-open"), c.CallbackMaxOpen))
	}
	if c.CallbackTTL > callback.DefaultMaxAhead {
		errs = append(errs, fmt.Errorf("%s: %v is longer than %v", setting("callback-ttl"), c.CallbackTTL, callback.DefaultMaxAhead))
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		errs = append(errs, fmt.Errorf("%s: %q is not a known IANA time zone", setting("time-zone"), c.TimeZone))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("%s: %q is not text or json", setting("log-format"), c.LogFormat))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"auth-max-token-age", c.AuthMaxTokenAge}, {"shutdown-timeout", c.ShutdownTimeout},
		{"request-timeout", c.RequestTimeout}, {"auto-block-window", c.AutoBlockWindow}, {"index-max-lag", c.IndexMaxLag},
		{"call-retention", c.CallRetention}, {"report-retention", c.ReportRetention}, {"retention-sweep-interval", c.RetentionSweepInterval},
		{"callback-ttl", c.CallbackTTL}, {"callback-claim-timeout", c.CallbackClaimTimeout}, {"callback-retention", c.CallbackRetention},
		{"watch-retention", c.WatchRetention}, {"watch-heartbeat", c.WatchHeartbeat},
		{"http-read-header-timeout", c.Edge.HTTPReadHeaderTimeout}, {"http-read-timeout", c.Edge.HTTPReadTimeout},
		{"http-write-timeout", c.Edge.HTTPWriteTimeout}, {"http-idle-timeout", c.Edge.HTTPIdleTimeout},
		{"stream-idle-timeout", c.Edge.StreamIdleTimeout}, {"grpc-handshake-timeout", c.Edge.GRPCHandshakeTimeout},
		{"grpc-max-connection-idle", c.Edge.GRPCMaxConnectionIdle},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %s is not a positive duration", setting(d.flag), d.v))
		}
	}
	for _, r := range []struct {
		flag string
		v    float64
	}{{"lookup-rate", c.LookupRate}, {"lookup-global-rate", c.Edge.LookupGlobalRate}} {
		if r.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %g is not a positive number", setting(r.flag), r.v))
		}
	}
	if _, err := netlimit.ParseProxies(c.Edge.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", setting("trusted-proxies"), err))
	}
	if c.WatchPerCustomer < 1 {
		errs = append(errs, fmt.Errorf("%s: %d, want at least 1", setting("watch-max-per-customer"), c.WatchPerCustomer))
	}
	if c.WatchHeartbeat >= c.Edge.StreamIdleTimeout {
		errs = append(errs, fmt.Errorf("%s: %v must be shorter than --stream-idle-timeout (%v), or idle live call streams are cut",
			setting("watch-heartbeat"), c.WatchHeartbeat, c.Edge.StreamIdleTimeout))
	}
	if c.Edge.HTTPWriteTimeout <= c.RequestTimeout {
		errs = append(errs, fmt.Errorf("%s: %v must be longer than --request-timeout (%v), or answers are cut off",
			setting("http-write-timeout"), c.Edge.HTTPWriteTimeout, c.RequestTimeout))
	}
	if c.Edge.GRPCMaxConcurrentStreams > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("%s: %d is too large", setting("grpc-max-concurrent-streams"), c.Edge.GRPCMaxConcurrentStreams))
	}
	for _, n := range []struct {
		flag   string
		v, min int
	}{
		{"lookup-burst", c.LookupBurst, 1}, {"max-reports-per-day", c.MaxReportsPerDay, 1}, {"auto-block-reporters", c.AutoBlockReporters, 0},
		{"max-conns", c.Edge.MaxConns, 0}, {"max-conns-per-addr", c.Edge.MaxConnsPerAddr, 1},
		{"grpc-max-concurrent-streams", c.Edge.GRPCMaxConcurrentStreams, 1},
		{"lookup-global-burst", c.Edge.LookupGlobalBurst, 1}, {"lookup-max-clients", c.Edge.LookupMaxClients, 1},
	} {
		if n.v < n.min {
			errs = append(errs, fmt.Errorf("%s: %d is less than %d", setting(n.flag), n.v, n.min))
		}
	}
	return errors.Join(errs...)
}

// RedisConfig is the connection to Redis that the --redis-* settings
// describe; use it only when RedisAddrs is set.
func (c Config) RedisConfig() redisconn.Config {
	return redisconn.Config{
		Addrs:        c.RedisAddrs,
		MasterName:   c.RedisMasterName,
		Username:     c.RedisUsername,
		PasswordFile: c.RedisPasswordFile,
		DB:           c.RedisDB,
		TLS:          redisconn.TLS{Enable: c.RedisTLS, CAFile: c.RedisTLSCAFile, ServerName: c.RedisTLSServerName},
	}
}

// validateRedis checks the --redis-* settings; it reads no file (New does).
func (c Config) validateRedis() []error {
	var errs []error
	if len(c.RedisAddrs) == 0 {
		for _, s := range []struct {
			flag string
			set  bool
		}{
			{"redis-master-name", c.RedisMasterName != ""}, {"redis-username", c.RedisUsername != ""},
			{"redis-password-file", c.RedisPasswordFile != ""}, {"redis-db", c.RedisDB != 0}, {"redis-tls", c.RedisTLS},
			{"redis-tls-ca-file", c.RedisTLSCAFile != ""}, {"redis-tls-server-name", c.RedisTLSServerName != ""},
			{"redis-key-prefix", c.RedisKeyPrefix != "cv"}, {"redis-json-records", c.RedisJSONRecords},
		} {
			if s.set {
				errs = append(errs, fmt.Errorf("%s: set without --redis-addrs, so the embedded store would be used and the setting ignored", setting(s.flag)))
			}
		}
		return errs
	}
	for _, a := range c.RedisAddrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port (e.g. redis:6379)", setting("redis-addrs"), a))
		}
	}
	switch rc := c.RedisConfig(); {
	case c.RedisDB < 0:
		errs = append(errs, fmt.Errorf("%s: %d is negative", setting("redis-db"), c.RedisDB))
	case c.RedisDB != 0 && rc.Kind() == redisconn.Cluster:
		errs = append(errs, fmt.Errorf("%s: %d with several --redis-addrs, which are a Redis Cluster's nodes: a Cluster has only database 0 (for Sentinel, set --redis-master-name)",
			setting("redis-db"), c.RedisDB))
	}
	if !validKeyPrefix(c.RedisKeyPrefix) {
		errs = append(errs, fmt.Errorf("%s: %q must be 1 to 32 letters, digits, '-' or '_'", setting("redis-key-prefix"), c.RedisKeyPrefix))
	}
	for _, s := range []struct{ flag, v string }{{"redis-tls-ca-file", c.RedisTLSCAFile}, {"redis-tls-server-name", c.RedisTLSServerName}} {
		if s.v != "" && !c.RedisTLS {
			errs = append(errs, fmt.Errorf("%s: set without --redis-tls", setting(s.flag)))
		}
	}
	return errs
}

// validateSharedKeys requires, with Redis, one key-encryption key that
// every instance reads: without --kek-file each instance would create its
// own in its data directory, and could neither open the keys and secrets
// another sealed nor derive the same HMAC keys. It holds on its own, apart
// from whether this build has a Redis backend.
func (c Config) validateSharedKeys() []error {
	if len(c.RedisAddrs) > 0 && c.KEKFile == "" {
		return []error{fmt.Errorf("%s: required with %s: every instance sharing Redis must read the same key-encryption key "+
			"(each would otherwise create its own and could not open the keys and secrets the others sealed); "+
			"create one with: head -c 32 /dev/urandom > kek.key && chmod 600 kek.key", setting("kek-file"), setting("redis-addrs"))}
	}
	return nil
}

// validateAuth requires exactly one way of checking bearer tokens: the
// development issuer (--dev) or one identity provider.
func (c Config) validateAuth() []error {
	var sources []string
	for _, s := range []struct{ flag, v string }{
		{"--auth-jwks-file", c.AuthJWKSFile}, {"--auth-jwks-url", c.AuthJWKSURL}, {"--auth-hmac-secret-file", c.AuthHMACSecretFile},
	} {
		if s.v != "" {
			sources = append(sources, s.flag)
		}
	}
	named := c.AuthIssuer != "" || c.AuthAudience != ""
	switch {
	case c.Dev && (len(sources) > 0 || named):
		return []error{fmt.Errorf("%s and an identity provider (--auth-*) are both configured: pass --dev for local use with tokens of the development issuer, or configure the identity provider without --dev, not both", setting("dev"))}
	case c.Dev:
		return nil
	case len(sources) == 0:
		return []error{errors.New("no identity provider to check bearer tokens: set --auth-jwks-url (or --auth-jwks-file or --auth-hmac-secret-file) with --auth-issuer and --auth-audience " +
			"(or their CALLVERIFY_AUTH_* variables); for local use pass --dev (CALLVERIFY_DEV=true) to accept tokens of the development issuer (callverify token mint)")}
	case len(sources) > 1:
		return []error{fmt.Errorf("%s: set only one", strings.Join(sources, ", "))}
	case !named || c.AuthIssuer == "" || c.AuthAudience == "":
		return []error{errors.New("--auth-issuer and --auth-audience: both required with an identity provider's keys")}
	}
	return nil
}

// validKeyPrefix reports whether p can start Redis keys and hash tags.
func validKeyPrefix(p string) bool {
	if p == "" || len(p) > 32 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
