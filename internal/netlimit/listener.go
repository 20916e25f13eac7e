package netlimit

import (
	"net"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits are the connection caps shared by every listener of one Limiter.
type Limits struct {
	// PerAddr caps the open connections of one client address (an IPv6
	// client by its /64). Zero means no per-address cap.
	PerAddr int
	// Total caps the open connections of all clients together; keep it
	// below the descriptor limit. Zero means no total cap.
	Total int
	// Exempt addresses (trusted proxies, which carry many clients on their
	// connections) are not held to PerAddr; they count towards Total.
	Exempt func(netip.Addr) bool
}

// Rejection reasons, the "reason" label of the rejection counter.
const (
	ReasonPerAddr = "per_address"
	ReasonTotal   = "total"
)

// Limiter counts the open connections of its listeners. A connection over
// a cap is closed as soon as it is accepted: it never reaches the server,
// and its descriptor is released at once.
type Limiter struct {
	limits Limits

	mu     sync.Mutex
	total  int
	byAddr map[string]int

	rejected *prometheus.CounterVec
	open     *prometheus.GaugeVec
}

// New returns a Limiter whose metrics (connections rejected by listener
// and reason, connections open by listener) are registered with reg.
func New(limits Limits, reg prometheus.Registerer) *Limiter {
	l := &Limiter{
		limits: limits,
		byAddr: make(map[string]int),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_connections_rejected_total",
			Help: "Connections closed on accept because a cap was reached, by listener and reason (per_address, total).",
		}, []string{"listener", "reason"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callverify_connections_open",
			Help: "Connections open, by listener.",
		}, []string{"listener"}),
	}
	reg.MustRegister(l.rejected, l.open)
	return l
}

// Listen wraps inner so that its connections are counted and capped; name
// labels its metrics ("grpc", "http").
func (l *Limiter) Listen(name string, inner net.Listener) net.Listener {
	for _, r := range []string{ReasonPerAddr, ReasonTotal} {
		l.rejected.WithLabelValues(name, r) // so that a zero shows
	}
	return &listener{Listener: inner, l: l, name: name, open: l.open.WithLabelValues(name)}
}

// acquire takes a slot for key, or says which cap refused it.
func (l *Limiter) acquire(key string, exempt bool) (ok bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.PerAddr > 0 && !exempt && l.byAddr[key] >= l.limits.PerAddr {
		return false, ReasonPerAddr
	}
	if l.limits.Total > 0 && l.total >= l.limits.Total {
		return false, ReasonTotal
	}
	l.total++
	l.byAddr[key]++
	return true, ""
}

func (l *Limiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n := l.byAddr[key] - 1; n > 0 {
		l.byAddr[key] = n
	} else {
		delete(l.byAddr, key)
	}
}

type listener struct {
	net.Listener
	l    *Limiter
	name string
	open prometheus.Gauge
}

// Accept returns the next connection within the caps, closing those over
// them on the way.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := AddrOf(c.RemoteAddr())
		key := Key(addr)
		exempt := ln.l.limits.Exempt != nil && ln.l.limits.Exempt(addr)
		if ok, reason := ln.l.acquire(key, exempt); !ok {
			ln.l.rejected.WithLabelValues(ln.name, reason).Inc()
			_ = c.Close()
			continue
		}
		ln.open.Inc()
		return &conn{Conn: c, release: func() { ln.l.release(key); ln.open.Dec() }}, nil
	}
}

// conn gives its slot back when it is first closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// DefaultTotal is the total connection cap for a descriptor limit of
// nofile: four fifths of it, keeping the rest (at least 64) for the store,
// logs, outgoing connections and the connections being closed. With an
// unknown limit it is a conservative 1024.
func DefaultTotal(nofile uint64) int {
	if nofile == 0 || nofile > 1<<30 {
		if nofile == 0 {
			return 1024
		}
		nofile = 1 << 30
	}
	reserve := max(nofile/5, 64)
	if nofile <= reserve+16 {
		return 16
	}
	return int(nofile - reserve)
}
