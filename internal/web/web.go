package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/phone"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every page and asset: everything
// from this origin only, no inline script or style, no framing, no <base>,
// forms posting only here.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// Minter mints a development bearer token (the --dev issuer's) and says
// until when it is valid.
type Minter func(role auth.Role, subject, phoneNumber string) (token string, expires time.Time, err error)

// Options are what the handlers need from the server.
type Options struct {
	// DevMint is set only when the server runs with --dev; without it the
	// development routes answer 404 as if they did not exist.
	DevMint Minter
	// Phone normalises a development customer's number.
	Phone  *phone.Parser
	Logger *slog.Logger
}

// Mux is where Register mounts its routes (an *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts the pages, the shared assets and the development routes.
func Register(mux Mux, o Options) {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	pages := secure(fileServer(files))
	for _, p := range []string{"GET /console/", "GET /check/", "GET /assets/"} {
		mux.Handle(p, pages)
	}
	mux.Handle("GET /{$}", secure(http.RedirectHandler("/console/", http.StatusFound)))
	dev := &devTokens{mint: o.DevMint, phone: o.Phone, log: o.Logger}
	mux.Handle("GET /dev/token", secure(http.HandlerFunc(dev.info)))
	mux.Handle("POST /dev/token", secure(http.HandlerFunc(dev.create)))
}

// SetSecurityHeaders sets the headers every response of this package
// carries.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// fileServer serves the embedded files; a directory without an index.html
// is not listed but not found.
func fileServer(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if strings.HasSuffix(r.URL.Path, "/") {
			name = path.Join(name, "index.html")
		}
		if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		// Embedded files have no modification time: make the browser ask
		// again rather than keep an old page after an upgrade.
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}
