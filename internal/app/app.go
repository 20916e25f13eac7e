// Package app builds callverifyd from its configuration: the store, the
// domain services and the transport. cmd/callverifyd and the tests
// (internal/testenv) both start the service through it, so what is tested
// is what runs.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/directory"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/netlimit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/retention"
	"github.com/callverify/callverify/internal/secretfile"
	"github.com/callverify/callverify/internal/server"
	"github.com/callverify/callverify/internal/web"
	"github.com/callverify/callverify/verify"
)

// Options are what tests may inject.
type Options struct {
	Logger *slog.Logger
	// Now is the clock of every domain; time.Now when nil.
	Now func() time.Time
}

// App is a built service, ready to serve.
type App struct {
	cfg     Config
	log     *slog.Logger
	store   *backend
	numbers *blocklist.Service
	server  *server.Server
	sweeper *retention.Sweeper
}

// New opens the store and builds every service. Close releases them.
func New(ctx context.Context, cfg Config, opt Options) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opt.Logger
	if log == nil {
		log = NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	a := &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	parser, err := phone.NewParser(cfg.DefaultRegion)
	if err != nil {
		return nil, fmt.Errorf("default region: %w", err)
	}
	// Everything below keeps its state and keys in the data directory.
	if err := secretfile.EnsureDir(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	authn, err := newAuthenticator(ctx, cfg, log, now)
	if err != nil {
		return nil, err
	}
	kek, err := loadOrCreateKEK(cfg)
	if err != nil {
		return nil, err
	}
	ring, err := loadHMACKeys(cfg, kek)
	if err != nil {
		return nil, err
	}
	if a.store, err = openBackend(ctx, cfg, kek, ring); err != nil {
		return nil, err
	}
	st := a.store
	rec := audit.NewRecorder(st.audit, now)
	numbers, err := blocklist.NewService(blocklist.Config{
		Store: st.blocklist, Audit: rec, Phone: parser, Now: now,
		MaxReportsPerDay: cfg.MaxReportsPerDay,
		AutoBlock:        blocklist.AutoBlock{Reporters: cfg.AutoBlockReporters, Window: cfg.AutoBlockWindow},
		Follow:           blocklist.Follow{Snapshot: st.indexSnapshot, Snapshots: st.indexSnapshots},
	})
	if err != nil {
		return nil, err
	}
	a.numbers = numbers
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("--time-zone: %w", err)
	}
	callbacks, err := callback.NewService(callback.Config{
		Store: st.callbacks, Audit: rec, Now: now, MaxOpen: cfg.CallbackMaxOpen,
		TTL: cfg.CallbackTTL, ClaimTimeout: cfg.CallbackClaimTimeout,
	})
	if err != nil {
		return nil, err
	}
	events, _ := st.verify.(verify.EventLog)
	calls, err := verify.NewService(verify.Config{
		Store:     st.verify,
		Directory: directory.New(numbers),
		Audit:     rec,
		Phone:     parser,
		Now:       now,
		Issuer:    cfg.TokenIssuer,
		Algorithm: cfg.TokenAlgorithm,
		X5U:       cfg.TokenX5U,
		KEK:       kek,
		Callbacks: callbacks,
		Location:  loc,
		Events:    events,
	})
	if err != nil {
		return nil, err
	}

	kinds := []retention.Kind{
		{Name: "calls", Action: "call.prune", Retention: cfg.CallRetention, Prune: st.verify.PruneCalls},
		{Name: "reports", Action: "report.prune", Retention: cfg.ReportRetention, Prune: st.blocklist.PruneReports},
		// Retention 0: what fell due by now is recorded EXPIRED.
		{Name: "callback-expiry", Action: "callback.expire", Retention: 0, Prune: callbacks.ExpireDue},
		{Name: "callbacks", Action: "callback.prune", Retention: cfg.CallbackRetention, Prune: callbacks.Prune},
	}
	if events != nil {
		// Pruning the outbox is housekeeping nobody asked for: no audit
		// event (the sweeper's action names it in logs only).
		kinds = append(kinds, retention.Kind{Name: "call_events", Action: "call_event.prune", Retention: cfg.WatchRetention,
			Prune: func(ctx context.Context, before time.Time, limit int, _ audit.Event) (int, error) {
				return events.PruneEvents(ctx, before, limit)
			}})
	}
	a.sweeper, err = retention.New(retention.Config{
		Kinds:    kinds,
		Interval: cfg.RetentionSweepInterval,
		Now:      now,
		Audit:    rec,
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}

	devMint, err := newDevMinter(cfg, now)
	if err != nil {
		return nil, err
	}
	proxies, err := netlimit.ParseProxies(cfg.Edge.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	a.server, err = server.New(server.Config{
		Logger:           log,
		Auth:             authn,
		Ready:            st.ready,
		IndexMaxLag:      cfg.IndexMaxLag,
		RequestTimeout:   cfg.RequestTimeout,
		ShutdownTimeout:  cfg.ShutdownTimeout,
		LookupRate:       rate.Limit(cfg.LookupRate),
		LookupBurst:      cfg.LookupBurst,
		Collectors:       append(a.sweeper.Collectors(), st.collectors...),
		DevMint:          devMint,
		WatchHeartbeat:   cfg.WatchHeartbeat,
		WatchPerCustomer: cfg.WatchPerCustomer,
		WatchCap:         st.watchCap,
		Edge: server.EdgeConfig{
			MaxConns:                 cfg.Edge.MaxConns,
			MaxConnsPerAddr:          cfg.Edge.MaxConnsPerAddr,
			TrustedProxies:           proxies,
			ReadHeaderTimeout:        cfg.Edge.HTTPReadHeaderTimeout,
			ReadTimeout:              cfg.Edge.HTTPReadTimeout,
			WriteTimeout:             cfg.Edge.HTTPWriteTimeout,
			StreamIdleTimeout:        cfg.Edge.StreamIdleTimeout,
			IdleTimeout:              cfg.Edge.HTTPIdleTimeout,
			GRPCConnectionTimeout:    cfg.Edge.GRPCHandshakeTimeout,
			GRPCMaxConnectionIdle:    cfg.Edge.GRPCMaxConnectionIdle,
			GRPCMaxConcurrentStreams: uint32(cfg.Edge.GRPCMaxConcurrentStreams),
			LookupMaxClients:         cfg.Edge.LookupMaxClients,
			LookupGlobalRate:         rate.Limit(cfg.Edge.LookupGlobalRate),
			LookupGlobalBurst:        cfg.Edge.LookupGlobalBurst,
			LookupLimiter:            st.lookup,
			LookupGlobalLimiter:      st.lookupGlobal,
		},
	}, &server.Deps{
		Verify:    calls,
		Blocklist: numbers,
		Callbacks: callbacks,
		Audit:     rec,
		Phone:     parser,
		JWKS:      calls.JWKS,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Serve serves on the listeners until ctx is done, then shuts down. The
// retention sweeper runs alongside, in its own goroutine, and has stopped
// when Serve returns.
func (a *App) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() { defer close(swept); a.sweeper.Run(sweepCtx) }()
	defer func() { stopSweep(); <-swept }()
	return a.server.Serve(ctx, grpcLis, httpLis)
}

// HTTPRoutes are the HTTP patterns served beside the RPCs' gateway routes.
func (a *App) HTTPRoutes() []string { return a.server.HTTPRoutes() }

// Registry is the Prometheus registry /metrics serves.
func (a *App) Registry() *prometheus.Registry { return a.server.Registry() }

// Close stops the blocklist's follower and releases the store.
func (a *App) Close() error {
	if a.numbers != nil {
		if err := a.numbers.Close(); err != nil {
			a.log.Warn("the next start scans the store", "err", err)
		}
	}
	if a.store != nil {
		return a.store.close()
	}
	return nil
}

// Run listens on the configured addresses and serves until ctx is done.
func Run(ctx context.Context, cfg Config, opt Options) error {
	a, err := New(ctx, cfg, opt)
	if err != nil {
		return err
	}
	defer a.Close()
	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	return a.Serve(ctx, grpcLis, httpLis)
}

func newAuthenticator(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*auth.Verifier, error) {
	ac := auth.Config{
		Issuer:         cfg.AuthIssuer,
		Audience:       cfg.AuthAudience,
		JWKSFile:       cfg.AuthJWKSFile,
		JWKSURL:        cfg.AuthJWKSURL,
		HMACSecretFile: cfg.AuthHMACSecretFile,
		MaxTokenAge:    cfg.AuthMaxTokenAge,
		Now:            now,
	}
	if cfg.Dev { // Validate has made sure no identity provider is configured
		path, err := auth.EnsureDevSecret(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("development issuer secret: %w", err)
		}
		ac.Issuer, ac.Audience, ac.HMACSecretFile = auth.DevIssuer, auth.DevAudience, path
		log.Warn("--dev: accepting bearer tokens of the development issuer (mint them with callverify token mint); never use this in production",
			"secret", path)
	}
	v, err := auth.NewVerifier(ctx, ac)
	if err != nil {
		return nil, fmt.Errorf("bearer token verifier: %w", err)
	}
	return v, nil
}

// devTokenTTL is how long a token minted by the web pages' development
// sign-in lasts: a working day.
const devTokenTTL = 8 * time.Hour

// newDevMinter mints the web pages' development tokens with the --dev
// issuer's secret; nil without --dev, so the route does not exist.
func newDevMinter(cfg Config, now func() time.Time) (web.Minter, error) {
	if !cfg.Dev {
		return nil, nil
	}
	path, err := auth.EnsureDevSecret(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("development issuer secret: %w", err)
	}
	secret, err := auth.LoadHMACSecret(path)
	if err != nil {
		return nil, fmt.Errorf("development issuer secret: %w", err)
	}
	return func(role auth.Role, subject, phoneNumber string) (string, time.Time, error) {
		issued := now()
		tok, err := auth.Mint(secret, auth.MintOptions{Subject: subject, Role: role, PhoneNumber: phoneNumber, TTL: devTokenTTL, Now: func() time.Time { return issued }})
		return tok, issued.Truncate(time.Second).Add(devTokenTTL), err
	}, nil
}

const kekFileName = "kek.key"

// pseudonymKeyLabel names the key derived from the KEK that keys stored
// pseudonyms of customers' numbers; a new label would be a new key.
const pseudonymKeyLabel = "callverify/pseudonym-key/v1"

// loadHMACKeys reads --hmac-keys-file, or derives the one default key from
// the KEK: the key pseudonyms were made with before the key file existed,
// so that existing reporters stay who they were.
func loadHMACKeys(cfg Config, kek []byte) (hmackeys.Ring, error) {
	if cfg.HMACKeysFile != "" {
		return hmackeys.Load(cfg.HMACKeysFile)
	}
	return hmackeys.Derive(kek, pseudonymKeyLabel)
}

// loadOrCreateKEK reads the key-encryption key, creating one in the data
// directory for the embedded default. Either file is refused when another
// user could read or change it.
func loadOrCreateKEK(cfg Config) ([]byte, error) {
	path := cfg.KEKFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, kekFileName)
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := secretfile.Write(path, k); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("key-encryption key: %w", err)
		}
	}
	k, err := secretfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key: %w", err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("key-encryption key %s: holds %d bytes, want exactly 32", path, len(k))
	}
	return k, nil
}

// NewLogger returns the process's slog logger.
func NewLogger(w *os.File, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
