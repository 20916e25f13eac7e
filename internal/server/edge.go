package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/callverify/callverify/internal/netlimit"
	"github.com/callverify/callverify/internal/ratelimit"
)

// EdgeConfig bounds what a client may hold at the network edge:
// connections, time, and anonymous lookups. Zero values take the defaults.
type EdgeConfig struct {
	// MaxConns caps the open connections of both listeners together
	// (default: netlimit.DefaultTotal of the open-file limit, 4/5 of it).
	MaxConns int
	// MaxConnsPerAddr caps the open connections of one client address,
	// an IPv6 client by its /64 (default 256). Trusted proxies are held to
	// MaxConns only.
	MaxConnsPerAddr int
	// TrustedProxies are the peers whose X-Forwarded-For (REST, and gRPC
	// metadata) is believed. Nobody by default.
	TrustedProxies netlimit.Proxies

	// HTTP: the request headers must arrive within ReadHeaderTimeout (5s);
	// a unary request whole within ReadTimeout (30s), and its response be
	// written within WriteTimeout (30s, longer than RequestTimeout). Streams
	// (bulk import, export, watch) are instead cut after StreamIdleTimeout
	// (60s) without a byte moving. An idle keep-alive connection is closed
	// after IdleTimeout (60s). Headers are bounded by MaxHeaderBytes (64 KiB).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	StreamIdleTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// gRPC: a connection must finish its HTTP/2 handshake within
	// GRPCConnectionTimeout (5s); one with no RPC for GRPCMaxConnectionIdle
	// (5m) is sent away; a silent one is pinged after GRPCKeepaliveTime (1m)
	// and closed if no answer comes within GRPCKeepaliveTimeout (20s).
	// Clients may ping at most every GRPCKeepaliveMinTime (20s), and only
	// with an RPC open. GRPCMaxConcurrentStreams (128) bounds the RPCs of
	// one connection.
	GRPCConnectionTimeout    time.Duration
	GRPCMaxConnectionIdle    time.Duration
	GRPCKeepaliveTime        time.Duration
	GRPCKeepaliveTimeout     time.Duration
	GRPCKeepaliveMinTime     time.Duration
	GRPCMaxConcurrentStreams uint32

	// LookupLimiter limits anonymous LookupNumber per client; a shared one
	// (redislimit, on Redis) makes it one limit for every instance. When
	// nil, an in-memory one with LookupRate and LookupBurst holds at most
	// LookupMaxClients keys (default 100,000) and is swept while the server
	// runs.
	LookupLimiter    ratelimit.Limiter
	LookupMaxClients int
	// LookupGlobalLimiter caps the anonymous lookups of all clients
	// together, asked with one key for everyone. A shared one (redislimit) makes
	// it one cap for every instance, so N instances do not allow N times
	// the rate. When nil, an in-memory one with LookupGlobalRate and
	// LookupGlobalBurst (default 100/s, burst 200) caps this instance alone.
	LookupGlobalLimiter ratelimit.Limiter
	LookupGlobalRate    rate.Limit
	LookupGlobalBurst   int
	// Now is the limiters' clock (time.Now when nil).
	Now func() time.Time
}

func (e *EdgeConfig) setDefaults(requestTimeout time.Duration) error {
	if e.MaxConns <= 0 {
		e.MaxConns = netlimit.DefaultTotal(netlimit.FileLimit())
	}
	if e.MaxConnsPerAddr <= 0 {
		e.MaxConnsPerAddr = 256
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&e.ReadHeaderTimeout, 5 * time.Second},
		{&e.ReadTimeout, 30 * time.Second},
		{&e.WriteTimeout, max(30*time.Second, requestTimeout+5*time.Second)},
		{&e.StreamIdleTimeout, time.Minute},
		{&e.IdleTimeout, time.Minute},
		{&e.GRPCConnectionTimeout, 5 * time.Second},
		{&e.GRPCMaxConnectionIdle, 5 * time.Minute},
		{&e.GRPCKeepaliveTime, time.Minute},
		{&e.GRPCKeepaliveTimeout, 20 * time.Second},
		{&e.GRPCKeepaliveMinTime, 20 * time.Second},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if e.MaxHeaderBytes <= 0 {
		e.MaxHeaderBytes = 64 << 10
	}
	if e.GRPCMaxConcurrentStreams == 0 {
		e.GRPCMaxConcurrentStreams = 128
	}
	if e.LookupMaxClients <= 0 {
		e.LookupMaxClients = 100_000
	}
	if e.LookupGlobalRate <= 0 {
		e.LookupGlobalRate = 100
	}
	if e.LookupGlobalBurst <= 0 {
		e.LookupGlobalBurst = 200
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	// A response must have time to be written after the handler's deadline.
	if e.WriteTimeout <= requestTimeout {
		return fmt.Errorf("server: the HTTP write timeout (%v) must be longer than the request timeout (%v)", e.WriteTimeout, requestTimeout)
	}
	return nil
}

// watchPath is the Server-Sent Events stream of a customer's calls.
const watchPath = "/v1/me/calls:watch"

// streamPaths are the HTTP routes that stream a body in or out for as long
// as bytes move: they are exempt from the read and write deadlines of
// unary routes and have an idle limit instead.
var streamPaths = map[string]bool{importPath: true, exportPath: true, watchPath: true}

type httpClientKey struct{}

// edge runs first for every HTTP request: it decides who the client is
// (believing X-Forwarded-For only from trusted proxies) and gives streams
// their idle limit in place of the unary deadlines.
func (s *Server) edge(next http.Handler) http.Handler {
	proxies := s.cfg.Edge.TrustedProxies
	idle := s.cfg.Edge.StreamIdleTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := proxies.Client(httpPeer(r), r.Header.Values("X-Forwarded-For"))
		r = r.WithContext(context.WithValue(r.Context(), httpClientKey{}, client))
		if streamPaths[r.URL.Path] {
			rc := http.NewResponseController(w)
			_ = rc.SetWriteDeadline(time.Now().Add(idle))
			if r.Body != nil && r.Body != http.NoBody {
				_ = rc.SetReadDeadline(time.Now().Add(idle))
				r.Body = &idleBody{ReadCloser: r.Body, rc: rc, idle: idle}
			} else {
				// Nothing is to be read: no read deadline, or the server's
				// background read (which watches for the client going away)
				// would time out and cancel a download that is moving. A
				// client that stops reading is caught by the write deadline.
				_ = rc.SetReadDeadline(time.Time{})
			}
			w = &idleWriter{ResponseWriter: w, rc: rc, idle: idle}
		}
		next.ServeHTTP(w, r)
	})
}

func httpPeer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// idleBody pushes the read deadline on each time bytes arrive, so an
// upload lasts as long as it moves and ends once it stalls.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		// The upload is whole; from here the server only watches for the
		// client going away, which must not time out while the answer is
		// being prepared (the write deadline bounds that).
		_ = b.rc.SetReadDeadline(time.Time{})
	case n > 0:
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	return n, err
}

// idleWriter pushes the write deadline on before each write, so a
// download lasts as long as the client reads it.
type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *idleWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	return w.ResponseWriter.Write(p)
}

func (w *idleWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientIP is the address of the client making the call: for REST, what
// edge decided from the HTTP connection; for gRPC, the peer, or when the
// peer is a trusted proxy, the rightmost untrusted hop of its
// x-forwarded-for metadata.
func clientIP(ctx context.Context, proxies netlimit.Proxies) netip.Addr {
	if a, ok := ctx.Value(httpClientKey{}).(netip.Addr); ok {
		return a
	}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	from := netlimit.AddrOf(p.Addr)
	if !proxies.Trusts(from) {
		return from
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return proxies.Client(from, md.Get("x-forwarded-for"))
}
