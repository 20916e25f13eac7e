package app

import (
	"strings"
	"testing"
	"time"
)

// TestEdgeFlagsHaveSaneDefaults: with no flags, the documented defaults.
func TestEdgeFlagsHaveSaneDefaults(t *testing.T) {
	t.Parallel()
	c, err := ParseFlags("callverifyd", []string{"--dev"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Edge
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"max-conns", e.MaxConns, 0},
		{"max-conns-per-addr", e.MaxConnsPerAddr, 256},
		{"trusted-proxies", len(e.TrustedProxies), 0},
		{"http-read-header-timeout", e.HTTPReadHeaderTimeout, 5 * time.Second},
		{"http-read-timeout", e.HTTPReadTimeout, 30 * time.Second},
		{"http-write-timeout", e.HTTPWriteTimeout, 30 * time.Second},
		{"http-idle-timeout", e.HTTPIdleTimeout, time.Minute},
		{"stream-idle-timeout", e.StreamIdleTimeout, time.Minute},
		{"grpc-handshake-timeout", e.GRPCHandshakeTimeout, 5 * time.Second},
		{"grpc-max-connection-idle", e.GRPCMaxConnectionIdle, 5 * time.Minute},
		{"grpc-max-concurrent-streams", e.GRPCMaxConcurrentStreams, 128},
		{"lookup-global-rate", e.LookupGlobalRate, 100.0},
		{"lookup-global-burst", e.LookupGlobalBurst, 200},
		{"lookup-max-clients", e.LookupMaxClients, 100000},
	} {
		if tc.got != tc.want {
			t.Errorf("--%s default = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestEdgeFlagsAreReadFromFlagsAndEnvironment: both sources, the flag
// winning; a list of proxies is split and trimmed.
func TestEdgeFlagsAreReadFromFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"CALLVERIFY_TRUSTED_PROXIES":     "10.0.0.0/8, fd00::/8",
		"CALLVERIFY_MAX_CONNS_PER_ADDR":  "50",
		"CALLVERIFY_STREAM_IDLE_TIMEOUT": "2m",
	}
	c, err := ParseFlags("callverifyd", []string{"--dev", "--max-conns-per-addr", "64", "--max-conns", "5000"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Edge.TrustedProxies, "|"); got != "10.0.0.0/8|fd00::/8" {
		t.Errorf("trusted proxies = %q", got)
	}
	if c.Edge.MaxConnsPerAddr != 64 || c.Edge.MaxConns != 5000 || c.Edge.StreamIdleTimeout != 2*time.Minute {
		t.Errorf("got per-addr %d, total %d, stream idle %v; want 64, 5000, 2m", c.Edge.MaxConnsPerAddr, c.Edge.MaxConns, c.Edge.StreamIdleTimeout)
	}
}

// TestEdgeFlagsAreParsedStrictly: each bad value is refused, naming its
// flag.
func TestEdgeFlagsAreParsedStrictly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--max-conns-per-addr", "10x"}, "--max-conns-per-addr"},
		{[]string{"--max-conns-per-addr", "0"}, "--max-conns-per-addr"},
		{[]string{"--max-conns", "-1"}, "--max-conns"},
		{[]string{"--lookup-global-rate", "5/s"}, "--lookup-global-rate"},
		{[]string{"--lookup-global-rate", "NaN"}, "--lookup-global-rate"},
		{[]string{"--lookup-max-clients", "1e5"}, "--lookup-max-clients"},
		{[]string{"--http-read-timeout", "30"}, "--http-read-timeout"},
		{[]string{"--grpc-handshake-timeout", "0s"}, "--grpc-handshake-timeout"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, "--trusted-proxies"},
		{[]string{"--trusted-proxies", "proxy.internal"}, "--trusted-proxies"},
		{[]string{"--http-write-timeout", "10s"}, "--http-write-timeout"},
		{[]string{"--request-timeout", "40s"}, "--http-write-timeout"},
	} {
		_, err := ParseFlags("callverifyd", append([]string{"--dev"}, tc.args...), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%q: error %v, want one naming %s", tc.args, err, tc.flag)
		}
	}
}
