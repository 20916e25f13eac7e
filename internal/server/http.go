package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/web"
)

func (s *Server) routes(gw http.Handler) http.Handler {
	mux := &recordingMux{ServeMux: http.NewServeMux()}
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
	mux.HandleFunc("POST "+importPath, s.importNDJSON)
	mux.HandleFunc("GET "+watchPath, s.watchSSE)
	mux.ServeMux.Handle("/v1/", s.limitBody(gw)) // the RPCs' routes: the proto's
	web.Register(mux, web.Options{DevMint: s.cfg.DevMint, Phone: s.deps.Phone, Logger: s.log})
	s.httpRoutes = mux.patterns
	return mux
}

// recordingMux is a ServeMux that remembers the patterns it was given, so
// that a test can hold the OpenAPI document to every route served.
type recordingMux struct {
	*http.ServeMux
	patterns []string
}

func (m *recordingMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// HTTPRoutes are the patterns ("GET /healthz") the HTTP server serves
// beside the RPCs' gateway routes.
func (s *Server) HTTPRoutes() []string { return slices.Clone(s.httpRoutes) }

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != importPath && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// readyz is 503 while draining, when the store cannot be reached, or while
// the blocklist index lags the store by more than IndexMaxLag.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		var behind errIndexBehind
		if errors.As(err, &behind) {
			s.log.Warn("readiness: blocklist index behind", "error", err)
			http.Error(w, "blocklist index behind the store", http.StatusServiceUnavailable)
			return
		}
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
