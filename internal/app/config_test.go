package app

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/callverify/callverify/internal/redisconn"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Operators' scripts and API.md depend on these names.
func TestEveryDocumentedFlagAndVariableExists(t *testing.T) {
	t.Parallel()
	var c Config
	fs := newFlagSet("test", &c)
	for _, name := range []string{
		"grpc-addr", "http-addr", "data-dir", "redis-addrs", "default-region", "dev",
		"auth-issuer", "auth-audience", "auth-jwks-file", "auth-jwks-url", "auth-hmac-secret-file", "auth-max-token-age",
		"token-issuer", "token-algorithm", "token-x5u", "kek-file", "hmac-keys-file", "log-level", "log-format",
		"shutdown-timeout", "request-timeout", "lookup-rate", "lookup-burst",
		"max-reports-per-day", "auto-block-reporters", "auto-block-window",
		"redis-master-name", "redis-username", "redis-password-file", "redis-db", "redis-tls", "redis-tls-ca-file", "redis-tls-server-name", "redis-key-prefix",
		"redis-json-records", "call-retention", "report-retention", "retention-sweep-interval",
	} {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("no flag --%s", name)
			continue
		}
		env := "CALLVERIFY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if !strings.Contains(f.Usage, "(env "+env+")") {
			t.Errorf("--%s: help %q does not name %s", name, f.Usage, env)
		}
	}
	if got, want := envName("auth-hmac-secret-file"), "CALLVERIFY_AUTH_HMAC_SECRET_FILE"; got != want {
		t.Errorf("envName = %q, want %q", got, want)
	}
}

// typedFlags says, for every flag that is not a plain string, how to read
// its field from a Config. A new typed flag needs a line here (the test
// below fails until it has one).
var typedFlags = map[string]func(Config) any{
	"dev":                      func(c Config) any { return c.Dev },
	"auth-max-token-age":       func(c Config) any { return c.AuthMaxTokenAge },
	"shutdown-timeout":         func(c Config) any { return c.ShutdownTimeout },
	"request-timeout":          func(c Config) any { return c.RequestTimeout },
	"auto-block-window":        func(c Config) any { return c.AutoBlockWindow },
	"lookup-rate":              func(c Config) any { return c.LookupRate },
	"lookup-burst":             func(c Config) any { return c.LookupBurst },
	"max-reports-per-day":      func(c Config) any { return c.MaxReportsPerDay },
	"auto-block-reporters":     func(c Config) any { return c.AutoBlockReporters },
	"redis-addrs":              func(c Config) any { return c.RedisAddrs },
	"call-retention":           func(c Config) any { return c.CallRetention },
	"report-retention":         func(c Config) any { return c.ReportRetention },
	"retention-sweep-interval": func(c Config) any { return c.RetentionSweepInterval },
	"index-max-lag":            func(c Config) any { return c.IndexMaxLag },
	"watch-retention":          func(c Config) any { return c.WatchRetention },
	"watch-heartbeat":          func(c Config) any { return c.WatchHeartbeat },
	"watch-max-per-customer":   func(c Config) any { return c.WatchPerCustomer },
	"redis-db":                 func(c Config) any { return c.RedisDB },
	"redis-tls":                func(c Config) any { return c.RedisTLS },
	"redis-json-records":       func(c Config) any { return c.RedisJSONRecords },
	"callback-max-open":        func(c Config) any { return c.CallbackMaxOpen },
	"callback-ttl":             func(c Config) any { return c.CallbackTTL },
	"callback-claim-timeout":   func(c Config) any { return c.CallbackClaimTimeout },
	"callback-retention":       func(c Config) any { return c.CallbackRetention },

	"max-conns":                   func(c Config) any { return c.Edge.MaxConns },
	"max-conns-per-addr":          func(c Config) any { return c.Edge.MaxConnsPerAddr },
	"trusted-proxies":             func(c Config) any { return c.Edge.TrustedProxies },
	"http-read-header-timeout":    func(c Config) any { return c.Edge.HTTPReadHeaderTimeout },
	"http-read-timeout":           func(c Config) any { return c.Edge.HTTPReadTimeout },
	"http-write-timeout":          func(c Config) any { return c.Edge.HTTPWriteTimeout },
	"http-idle-timeout":           func(c Config) any { return c.Edge.HTTPIdleTimeout },
	"stream-idle-timeout":         func(c Config) any { return c.Edge.StreamIdleTimeout },
	"grpc-handshake-timeout":      func(c Config) any { return c.Edge.GRPCHandshakeTimeout },
	"grpc-max-connection-idle":    func(c Config) any { return c.Edge.GRPCMaxConnectionIdle },
	"grpc-max-concurrent-streams": func(c Config) any { return c.Edge.GRPCMaxConcurrentStreams },
	"lookup-global-rate":          func(c Config) any { return c.Edge.LookupGlobalRate },
	"lookup-global-burst":         func(c Config) any { return c.Edge.LookupGlobalBurst },
	"lookup-max-clients":          func(c Config) any { return c.Edge.LookupMaxClients },
}

// pairedWith are the settings a flag is checked against, set so that any
// good value of the flag alone is accepted.
var pairedWith = map[string][]string{
	"request-timeout":     {"--http-write-timeout=24h"},
	"http-write-timeout":  {"--request-timeout=1ms"},
	"watch-heartbeat":     {"--stream-idle-timeout=876000h"},
	"stream-idle-timeout": {"--watch-heartbeat=1ns"},
	"redis-db":            {"--redis-addrs=127.0.0.1:6379", "--kek-file=kek.key"},
	"redis-tls":           {"--redis-addrs=127.0.0.1:6379", "--kek-file=kek.key"},
	"redis-json-records":  {"--redis-addrs=127.0.0.1:6379", "--kek-file=kek.key"},
}

type valueCase struct {
	in   string
	want any // nil: the value must be refused
}

// valueCases are good and bad values for each type.
var valueCases = map[string][]valueCase{
	"int": {
		{"7", 7}, {"+7", 7}, {"010", 10}, {"100000", 100000},
		{"10x", nil}, {"1.5", nil}, {"0x10", nil}, {"1e3", nil}, {"7 ", nil}, {" 7", nil}, {"seven", nil}, {"7;rm", nil},
		{"99999999999999999999999", nil},
	},
	"float64": {
		{"0.5", 0.5}, {"2", 2.0}, {"1e-3", 0.001}, {"+3.25", 3.25},
		{"10x", nil}, {"1.5.2", nil}, {"NaN", nil}, {"Inf", nil}, {"-Inf", nil}, {"0.5 ", nil}, {"1,5", nil},
	},
	"duration": {
		{"10s", 10 * time.Second}, {"1h30m", 90 * time.Minute}, {"250ms", 250 * time.Millisecond},
		{"5", nil}, {"10x", nil}, {"1.5", nil}, {"10s garbage", nil}, {"10 s", nil}, {"s", nil}, {"ten seconds", nil},
	},
	"bool": {
		{"true", true}, {"false", false}, {"1", true}, {"0", false},
		{"yes", nil}, {"on", nil}, {"10x", nil}, {"truex", nil},
	},
}

func TestEveryTypedFlagAndVariableIsParsedStrictly(t *testing.T) {
	t.Parallel()
	var c Config
	fs := newFlagSet("test", &c)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() != "string" && typedFlags[f.Name] == nil {
			t.Errorf("--%s (%s) has no row in typedFlags: add one", f.Name, f.Value.Type())
		}
	})
	for name, field := range typedFlags {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("no flag --%s", name)
			continue
		}
		if f.Value.Type() == "strings" {
			continue // a list: see TestStringListFlag
		}
		cases := valueCases[f.Value.Type()]
		if len(cases) == 0 {
			t.Errorf("--%s: no value cases for type %s", name, f.Value.Type())
		}
		env := envName(name)
		for _, tc := range cases {
			base := append([]string{"--dev"}, pairedWith[name]...)
			if name == "dev" {
				base = nil
				if tc.want == false { // without --dev, an identity provider is needed
					base = []string{"--auth-hmac-secret-file=s", "--auth-issuer=i", "--auth-audience=a"}
				}
			}
			for _, form := range []struct {
				how  string
				args []string
				env  map[string]string
				says []string
			}{
				{"flag", append(base, "--"+name+"="+tc.in), nil, []string{`"--` + name + `"`, `"` + tc.in + `"`}},
				{"variable", base, map[string]string{env: tc.in}, []string{env, `"` + tc.in + `"`}},
			} {
				cfg, err := ParseFlags("test", form.args, envOf(form.env))
				if tc.want == nil {
					if err == nil {
						t.Errorf("%s %s=%q: accepted as %v, want an error", form.how, name, tc.in, field(cfg))
						continue
					}
					for _, s := range form.says {
						if !strings.Contains(err.Error(), s) {
							t.Errorf("%s %s=%q: error %q does not name %s", form.how, name, tc.in, err, s)
						}
					}
					continue
				}
				if err != nil {
					t.Errorf("%s %s=%q: %v, want it accepted", form.how, name, tc.in, err)
					continue
				}
				if got := field(cfg); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s %s=%q: got %v, want %v", form.how, name, tc.in, got, tc.want)
				}
			}
		}
	}
}

func TestStringListFlag(t *testing.T) {
	t.Parallel()
	var got []string
	var c Config
	fs := newFlagSet("test", &c)
	flags{fs}.Strings(&got, "list", []string{"default"}, "a list")
	if err := fs.Parse([]string{"--list", " a, ,b ", "--list=c"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q", got, want)
	}
}

func TestAFlagOnTheCommandLineWinsOverItsVariable(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"CALLVERIFY_LOOKUP_BURST": "5", "CALLVERIFY_REQUEST_TIMEOUT": "3s", "CALLVERIFY_LOOKUP_RATE": "2.5"})
	cfg, err := ParseFlags("test", []string{"--dev", "--lookup-burst", "7"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LookupBurst != 7 || cfg.RequestTimeout != 3*time.Second || cfg.LookupRate != 2.5 {
		t.Errorf("burst %d, timeout %s, rate %g; want 7 (flag), 3s and 2.5 (variables)", cfg.LookupBurst, cfg.RequestTimeout, cfg.LookupRate)
	}
}

func TestOutOfRangeValuesNameTheFlagAndItsVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, value string }{
		{"lookup-rate", "0"}, {"lookup-rate", "-1"}, {"lookup-burst", "0"}, {"max-reports-per-day", "0"},
		{"auto-block-reporters", "-1"}, {"shutdown-timeout", "0s"}, {"request-timeout", "-1s"},
		{"auto-block-window", "0s"}, {"auth-max-token-age", "-1h"},
	} {
		_, err := ParseFlags("test", []string{"--dev", "--" + tc.flag + "=" + tc.value}, noEnv)
		if err == nil || !strings.Contains(err.Error(), setting(tc.flag)) {
			t.Errorf("--%s=%s: %v, want an error naming %s", tc.flag, tc.value, err, setting(tc.flag))
		}
	}
}

func TestHelpIsGNUStyleWithTypes(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		if _, err := ParseFlags("callverifyd", args, noEnv); !errors.Is(err, pflag.ErrHelp) {
			t.Errorf("%v: %v, want pflag.ErrHelp", args, err)
		}
	}
	help := Usage("callverifyd")
	for _, want := range []string{
		"--shutdown-timeout duration", "--auth-max-token-age duration", "--lookup-burst int", "--lookup-rate float",
		"--redis-addrs strings", "--grpc-addr string", "--dev  ", "(env CALLVERIFY_DEV)", `(default ":9090")`, "(default 24h0m0s)",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help does not show %q:\n%s", want, help)
		}
	}
	if _, err := ParseFlags("callverifyd", []string{"-lookup-burst=3"}, noEnv); err == nil {
		t.Error("Go-style single-dash long flag accepted, want GNU style only")
	}
}

func TestIdentityProviderOrDevIsRequiredAndNotBoth(t *testing.T) {
	t.Parallel()
	idp := []string{"--auth-jwks-url=https://idp.example/jwks.json", "--auth-issuer=https://idp.example", "--auth-audience=callverify"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // "" = accepted
	}{
		{"nothing", nil, nil, []string{"no identity provider", "--auth-jwks-url", "--dev"}},
		{"--dev", []string{"--dev"}, nil, nil},
		{"CALLVERIFY_DEV", nil, map[string]string{"CALLVERIFY_DEV": "true"}, nil},
		{"an identity provider", idp, nil, nil},
		{"--dev with an identity provider", append([]string{"--dev"}, idp...), nil, []string{"--dev", "both"}},
		{"CALLVERIFY_DEV with an HMAC secret", []string{"--auth-hmac-secret-file=s", "--auth-issuer=i", "--auth-audience=a"},
			map[string]string{"CALLVERIFY_DEV": "1"}, []string{"--dev", "both"}},
		{"--dev with an issuer only", []string{"--dev", "--auth-issuer=i"}, nil, []string{"--dev", "both"}},
		{"keys without issuer", []string{"--auth-jwks-file=f"}, nil, []string{"--auth-issuer and --auth-audience"}},
		{"two key sources", []string{"--auth-jwks-file=f", "--auth-hmac-secret-file=s", "--auth-issuer=i", "--auth-audience=a"}, nil,
			[]string{"--auth-jwks-file, --auth-hmac-secret-file: set only one"}},
	} {
		_, err := ParseFlags("test", tc.args, envOf(tc.env))
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want it accepted", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted, want an error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
}

func TestRedisSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // nil = accepted
	}{
		{"standalone", []string{"--redis-addrs=redis:6379", "--redis-db=2", "--redis-password-file=pw"}, nil, nil},
		{"cluster", []string{"--redis-addrs=n1:6379,n2:6379,n3:6379", "--redis-username=callverify"}, nil, nil},
		{"sentinel with a database", []string{"--redis-addrs=s1:26379,s2:26379", "--redis-master-name=main", "--redis-db=1"}, nil, nil},
		{"tls", nil, map[string]string{"CALLVERIFY_REDIS_ADDRS": "redis:6380", "CALLVERIFY_REDIS_TLS": "true",
			"CALLVERIFY_REDIS_TLS_CA_FILE": "ca.pem", "CALLVERIFY_REDIS_TLS_SERVER_NAME": "redis.internal"}, nil},
		{"cluster with a database", []string{"--redis-addrs=n1:6379,n2:6379", "--redis-db=3"}, nil,
			[]string{setting("redis-db"), "3 with several --redis-addrs", "only database 0"}},
		{"negative database", []string{"--redis-addrs=redis:6379", "--redis-db=-1"}, nil, []string{setting("redis-db"), "-1 is negative"}},
		{"not host:port", []string{"--redis-addrs=redis"}, nil, []string{setting("redis-addrs"), `"redis" is not host:port`}},
		{"CA file without tls", []string{"--redis-addrs=redis:6379", "--redis-tls-ca-file=ca.pem"}, nil,
			[]string{setting("redis-tls-ca-file"), "without --redis-tls"}},
		{"server name without tls", []string{"--redis-addrs=redis:6379", "--redis-tls-server-name=r"}, nil,
			[]string{setting("redis-tls-server-name"), "without --redis-tls"}},
		{"database without addresses", []string{"--redis-db=1"}, nil, []string{setting("redis-db"), "without --redis-addrs"}},
		{"password file without addresses", nil, map[string]string{"CALLVERIFY_REDIS_PASSWORD_FILE": "pw"},
			[]string{setting("redis-password-file"), "without --redis-addrs"}},
	} {
		// With Redis a shared key-encryption key is required (see
		// TestRedisRequiresASharedKEKFile); here it is given.
		cfg, err := ParseFlags("test", append([]string{"--dev", "--kek-file=kek.key"}, tc.args...), envOf(tc.env))
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want it accepted", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted as %+v, want an error", tc.name, cfg.RedisConfig())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
}

func TestRedisConfigCarriesEverySetting(t *testing.T) {
	t.Parallel()
	cfg, err := ParseFlags("test", []string{"--dev", "--kek-file=kek.key", "--redis-addrs=s1:26379,s2:26379", "--redis-master-name=main",
		"--redis-username=u", "--redis-password-file=pw", "--redis-db=4", "--redis-tls",
		"--redis-tls-ca-file=ca.pem", "--redis-tls-server-name=redis.internal"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.RedisConfig()
	want := redisconn.Config{
		Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "main", Username: "u", PasswordFile: "pw", DB: 4,
		TLS: redisconn.TLS{Enable: true, CAFile: "ca.pem", ServerName: "redis.internal"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RedisConfig = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("redisconn refuses what the flags accepted: %v", err)
	}
}
