package netlimit

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Key is the identity of a client address for limits: an IPv4 address as
// it is, an IPv6 address by its /64, since one subscriber is commonly given
// a whole /64 and would otherwise have 2^64 identities.
func Key(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() || !a.IsValid() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// AddrOf is the IP address of a net.Addr (TCP, UDP, IP or "host:port").
func AddrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.IPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		ip, _ := netip.ParseAddr(a.String())
		return ip.Unmap()
	}
	return ap.Addr().Unmap()
}

// Proxies are the trusted proxies: peers whose X-Forwarded-For is believed.
// The zero value trusts nobody.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads a list of CIDR ranges (a bare address is its own /32
// or /128).
func ParseProxies(cidrs []string) (Proxies, error) {
	var p Proxies
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return Proxies{}, fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/8 or an address", c)
			}
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(c)
		if err != nil {
			return Proxies{}, fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/8 or an address", c)
		}
		if pr.Addr().Is4In6() && pr.Bits() >= 96 {
			pr = netip.PrefixFrom(pr.Addr().Unmap(), pr.Bits()-96)
		}
		p.prefixes = append(p.prefixes, pr.Masked())
	}
	return p, nil
}

// Trusts says whether a is a trusted proxy.
func (p Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p.prefixes {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the client behind a request that arrived from peer carrying the
// X-Forwarded-For values xff (every header line, in order). From a peer
// that is not a trusted proxy, xff is ignored: the peer is the client.
// From a trusted proxy, the client is the rightmost hop that is not itself
// a trusted proxy; every hop left of it was written by that client and
// proves nothing. A hop that is not an address stops the walk at the
// trusted proxy that passed it on, so garbage cannot choose a key. When
// every hop is trusted, the leftmost is the client.
func (p Proxies) Client(peer netip.Addr, xff []string) netip.Addr {
	client := peer.Unmap()
	if !p.Trusts(client) {
		return client
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := parseHop(h)
		if err != nil {
			return client
		}
		client = a
		if !p.Trusts(a) {
			return a
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For element: an address, possibly with a
// port ("1.2.3.4:5678", "[2001:db8::1]:443").
func parseHop(h string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.WithZone("").Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(h)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().WithZone("").Unmap(), nil
}
