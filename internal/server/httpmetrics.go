package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics count every HTTP request by its route and status, and time
// it. The route is a pattern, never a path: the ServeMux pattern
// ("GET /healthz"), or for the RPCs' REST routes the gateway's
// ("GET /v1/calls/{call_id}"), so no number or id becomes a
// label; a request that matched nothing is "unmatched".
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// perRoute caches each route's latency observer (route to
	// prometheus.Observer): the set of routes is fixed.
	perRoute sync.Map
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callverify_http_requests_total",
			Help: "HTTP requests answered, by route pattern and HTTP status (REST, health, metrics, JWKS, the web pages).",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callverify_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, until the handler returns (for streams: their whole length).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

type gatewayRouteKey struct{}

// gatewayRoute is where the gateway's middleware leaves the pattern of the
// REST route it matched, for the outer handler to read after serving.
type gatewayRoute struct{ pattern string }

// gatewayMiddleware records the gateway's route pattern.
func gatewayMiddleware(next gwruntime.HandlerFunc) gwruntime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if g, ok := r.Context().Value(gatewayRouteKey{}).(*gatewayRoute); ok {
			if p, ok := gwruntime.HTTPPattern(r.Context()); ok {
				// "/v1/calls/{call_id=*}" reads as "/v1/calls/{call_id}".
				g.pattern = r.Method + " " + strings.ReplaceAll(p.String(), "=*}", "}")
			}
		}
		next(w, r, params)
	}
}

// wrap counts and times the requests next serves. next must be the
// ServeMux itself: it sets the matched pattern on the request it is given.
func (m *httpMetrics) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		g := &gatewayRoute{}
		r = r.WithContext(context.WithValue(r.Context(), gatewayRouteKey{}, g))
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := g.pattern
		if route == "" {
			route = r.Pattern // set by the ServeMux on this request
		}
		if route == "" {
			route = "unmatched"
		}
		m.observer(route).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

func (m *httpMetrics) observer(route string) prometheus.Observer {
	if o, ok := m.perRoute.Load(route); ok {
		return o.(prometheus.Observer)
	}
	o, _ := m.perRoute.LoadOrStore(route, m.latency.WithLabelValues(route))
	return o.(prometheus.Observer)
}

// statusWriter remembers the status written. It unwraps for
// http.ResponseController (deadlines, flushes) and flushes for handlers
// that ask for an http.Flusher.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
