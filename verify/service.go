package verify

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/seal"
)

// Limits of the API contract.
const (
	// DefaultTTL is a call's lifetime when the dialer gives none.
	DefaultTTL = 600 * time.Second
	// MaxTTL is the longest lifetime of a call, and so of a call token.
	MaxTTL = 3600 * time.Second
	// MaxWrongAttempts wrong codes lock a call.
	MaxWrongAttempts = 5
	// IatSkew is how far in the future a token's iat may be.
	IatSkew = 60 * time.Second
	// CodePeriod is the TOTP time step.
	CodePeriod = 30 * time.Second
	// DefaultMaxDevices is how many devices a customer may enrol.
	DefaultMaxDevices = 5
	// DefaultKeyCacheTTL is how long an instance trusts its cached view of
	// the signing keys before it re-reads them from the store.
	DefaultKeyCacheTTL = 10 * time.Second
)

// Algorithms the service signs with and accepts.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Config is what a Service needs.
type Config struct {
	Store     Store
	Directory Directory
	Audit     *audit.Recorder
	Phone     *phone.Parser
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Issuer is the tokens' iss claim (default "callverify").
	Issuer string
	// Algorithm signs new keys: "ES256" (default) or "EdDSA".
	Algorithm string
	// X5U, when set, goes into every token header (RFC 8225 x5u).
	X5U string
	// KEK is the 32-byte key-encryption key that seals private keys and
	// TOTP secrets at rest.
	KEK []byte
	// KeyCacheTTL bounds how long a rotation made by another instance
	// goes unnoticed (default DefaultKeyCacheTTL). Retired keys stay
	// published this much longer.
	KeyCacheTTL time.Duration
	// MaxDevices per customer (default DefaultMaxDevices).
	MaxDevices int
	// Callbacks tells which callback request a call answers; nil: no
	// call is ever shown as a callback.
	Callbacks Callbacks
	// Location is the time zone of "the callback you asked for at 14:02"
	// (default DefaultTimeZone).
	Location *time.Location
	// Events is the store's outbox of call events (usually the Store
	// itself); nil: WatchMyCalls is not available.
	Events EventLog
}

// Service is the calls domain. It is safe for concurrent use.
type Service struct {
	store Store
	dir   Directory
	// idir is dir when it answers from memory too (IndexedDirectory), else
	// nil.
	idir       IndexedDirectory
	audit      *audit.Recorder
	phone      *phone.Parser
	now        func() time.Time
	issuer     string
	alg        string
	x5u        string
	seal       *seal.Sealer
	keyTTL     time.Duration
	maxDevices int
	callbacks  Callbacks
	loc        *time.Location
	events     EventLog

	keyCache atomic.Pointer[keyring]
	ringMu   sync.Mutex // serialises reloads of keyCache
	lastMiss atomic.Int64
}

// NewService returns a Service over cfg.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Directory == nil || cfg.Audit == nil || cfg.Phone == nil {
		return nil, errors.New("verify: Store, Directory, Audit and Phone are required")
	}
	sealer, err := seal.New(cfg.KEK)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "callverify"
	}
	switch cfg.Algorithm {
	case "":
		cfg.Algorithm = AlgES256
	case AlgES256, AlgEdDSA:
	default:
		return nil, fmt.Errorf("verify: algorithm %q is not supported (want ES256 or EdDSA)", cfg.Algorithm)
	}
	if cfg.KeyCacheTTL <= 0 {
		cfg.KeyCacheTTL = DefaultKeyCacheTTL
	}
	if cfg.MaxDevices <= 0 {
		cfg.MaxDevices = DefaultMaxDevices
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation(DefaultTimeZone)
		if err != nil {
			return nil, fmt.Errorf("verify: time zone %s: %w", DefaultTimeZone, err)
		}
		cfg.Location = loc
	}
	idir, _ := cfg.Directory.(IndexedDirectory)
	return &Service{
		store:      cfg.Store,
		dir:        cfg.Directory,
		idir:       idir,
		audit:      cfg.Audit,
		phone:      cfg.Phone,
		now:        cfg.Now,
		issuer:     cfg.Issuer,
		alg:        cfg.Algorithm,
		x5u:        cfg.X5U,
		seal:       sealer,
		keyTTL:     cfg.KeyCacheTTL,
		maxDevices: cfg.MaxDevices,
		callbacks:  cfg.Callbacks,
		loc:        cfg.Location,
		events:     cfg.Events,
	}, nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// idLen is the length of a 128-bit random id in idEncoding.
const idLen = 26

// newID returns 128 random bits as 26 lower-case base32 characters.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return idEncoding.EncodeToString(b[:])
}

// wellFormedID reports whether s can be an id from newID; anything else is
// answered as "not found" without a store round trip.
func wellFormedID(s string) bool {
	if len(s) != idLen {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '2' || r > '7')
	}) < 0
}

// newUUID returns a random (version 4) UUID, for RFC 8588 origid.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0x0f])
	}
	return string(out)
}
