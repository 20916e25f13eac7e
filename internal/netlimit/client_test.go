package netlimit_test

import (
	"net/netip"
	"testing"

	"github.com/callverify/callverify/internal/netlimit"
)

func TestClientBelievesForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	p, err := netlimit.ParseProxies([]string{"10.0.0.0/8", " 192.168.1.1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: its claim is ignored", "203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer, no header", "203.0.113.9", nil, "203.0.113.9"},
		{"trusted proxy: the hop it saw", "10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted proxy: a spoofed hop left of the real one proves nothing", "10.1.2.3", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies are skipped", "10.1.2.3", []string{"1.1.1.1, 198.51.100.1, 192.168.1.1"}, "198.51.100.1"},
		{"header split over lines", "10.1.2.3", []string{"1.1.1.1", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"hop with a port", "10.1.2.3", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 hop with a port", "10.1.2.3", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"garbage stops at the proxy that passed it", "10.1.2.3", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"garbage behind a second proxy stops there", "10.1.2.3", []string{"junk, 192.168.1.1"}, "192.168.1.1"},
		{"all hops trusted: the leftmost", "10.1.2.3", []string{"10.0.0.7, 192.168.1.1"}, "10.0.0.7"},
		{"trusted proxy without a header", "10.1.2.3", nil, "10.1.2.3"},
		{"IPv4-mapped peer is IPv4", "::ffff:10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted IPv6 proxy", "fd00::1", []string{"2001:db8::5"}, "2001:db8::5"},
	} {
		got := p.Client(netip.MustParseAddr(tc.peer), tc.xff)
		if got.String() != tc.want {
			t.Errorf("%s: Client(%s, %q) = %s, want %s", tc.name, tc.peer, tc.xff, got, tc.want)
		}
	}
	var none netlimit.Proxies
	if got := none.Client(netip.MustParseAddr("10.1.2.3"), []string{"198.51.100.1"}); got.String() != "10.1.2.3" {
		t.Errorf("with no trusted proxies, Client believed the header: %s", got)
	}
}

func TestParseProxiesRefusesWhatIsNotARange(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0/8", "*"} {
		if _, err := netlimit.ParseProxies([]string{bad}); err == nil {
			t.Errorf("ParseProxies(%q) accepted it", bad)
		}
	}
}

// TestKeyGroupsIPv6ByItsSlash64: two addresses in one /64 are one client;
// IPv4 addresses (also written IPv4-mapped) are themselves.
func TestKeyGroupsIPv6ByItsSlash64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"198.51.100.1", "::ffff:198.51.100.1", true},
		{"198.51.100.1", "198.51.100.2", false},
		{"fe80::1%eth0", "fe80::2", true},
	} {
		ka, kb := netlimit.Key(netip.MustParseAddr(tc.a)), netlimit.Key(netip.MustParseAddr(tc.b))
		if (ka == kb) != tc.same {
			t.Errorf("Key(%s) = %q, Key(%s) = %q: same = %v, want %v", tc.a, ka, tc.b, kb, ka == kb, tc.same)
		}
	}
	if got, want := netlimit.Key(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}
