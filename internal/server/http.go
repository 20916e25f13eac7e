package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// Bulk import bodies may be large; they are streamed, never held whole.
const importPath = "/v1/blocklist:import"

func (s *Server) routes(gw http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(callverifyv1.OpenAPI)
	})
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.HandleFunc("GET "+exportPath, s.exportNDJSON)
	mux.Handle("POST "+importPath, s.guardImport(gw))
	mux.Handle("/v1/", s.limitBody(gw))
	return mux
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != importPath && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

const importMethod = "/callverify.v1.BlocklistService/ImportEntries"

// maxImportLine bounds one NDJSON line of a bulk import; an entry is far
// smaller.
const maxImportLine = 64 << 10

// guardImport checks the caller before the gateway starts reading a bulk
// import, whose body is not size-limited: the stream would otherwise be
// read (and each JSON value held whole) before the gRPC chain sees the
// token. It also bounds every line.
func (s *Server) guardImport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		md := metadata.Pairs("authorization", r.Header.Get("Authorization"))
		if _, err := s.chain.authorize(metadata.NewIncomingContext(r.Context(), md), importMethod); err != nil {
			writeHTTPError(w, status.Convert(err))
			return
		}
		r.Body = &lineLimiter{r: r.Body, max: maxImportLine}
		next.ServeHTTP(w, r)
	})
}

// lineLimiter fails a read once a line grows past max bytes.
type lineLimiter struct {
	r    io.ReadCloser
	max  int
	line int
}

var errLineTooLong = errors.New("a line of the import is longer than 64 KiB")

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.line = 0
			continue
		}
		if l.line++; l.line > l.max {
			return 0, errLineTooLong
		}
	}
	return n, err
}

func (l *lineLimiter) Close() error { return l.r.Close() }

// readyz is 503 while draining or when the store cannot be reached.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		s.log.Warn("readiness: store unreachable", "error", err)
		http.Error(w, "store unreachable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if s.deps.JWKS == nil {
		http.Error(w, "not available", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	b, err := s.deps.JWKS(ctx)
	if err != nil {
		s.log.Error("jwks", "error", err)
		http.Error(w, "the service is temporarily unavailable, please retry", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short: a rotated key signs at once, and a verifier that trusts this
	// header would refuse new tokens until its copy expires.
	w.Header().Set("Cache-Control", "public, max-age=30")
	_, _ = w.Write(b)
}
