package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/callverify/callverify/internal/netlimit"
)

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
