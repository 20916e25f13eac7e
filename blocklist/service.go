package blocklist

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Config is what a Service needs.
type Config struct {
	Store Store
	Audit *audit.Recorder
	Phone *phone.Parser
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// MaxReportsPerDay bounds the reports one customer may make per UTC
	// day; 20 when zero.
	MaxReportsPerDay int
	// AutoBlock blocks a reported number by itself; off when its zero value.
	AutoBlock AutoBlock
}

// AutoBlock blocks a number once Reporters distinct customers have reported
// it within Window. It is off unless both are set.
type AutoBlock struct {
	Reporters int
	Window    time.Duration
	// Category of the entry it creates; CategoryScam when unspecified.
	Category Category
}

func (a AutoBlock) enabled() bool { return a.Reporters > 0 && a.Window > 0 }

// Service is the numbers domain. It is safe for concurrent use.
type Service struct {
	store Store
	audit *audit.Recorder
	phone *phone.Parser
	now   func() time.Time
	index *Index

	maxReportsPerDay int
	autoBlock        AutoBlock

	// writeMu orders entry writes with their application to the index, so
	// the index sees this instance's changes in sequence order. The
	// embedded store serialises writers anyway, so it costs nothing there.
	writeMu sync.Mutex
}

// NewService returns a Service over cfg. It loads the matching index from a
// full scan of the store before it returns, so Match is right from the
// first call.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Audit == nil || cfg.Phone == nil {
		return nil, errors.New("blocklist: Store, Audit and Phone are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxReportsPerDay <= 0 {
		cfg.MaxReportsPerDay = 20
	}
	if cfg.AutoBlock.enabled() && cfg.AutoBlock.Category == CategoryUnspecified {
		cfg.AutoBlock.Category = CategoryScam
	}
	if cfg.AutoBlock.Category != CategoryUnspecified && !cfg.AutoBlock.Category.Valid() {
		return nil, fmt.Errorf("blocklist: AutoBlock.Category %d is not a category", cfg.AutoBlock.Category)
	}
	s := &Service{
		store: cfg.Store, audit: cfg.Audit, phone: cfg.Phone, now: cfg.Now, index: NewIndex(),
		maxReportsPerDay: cfg.MaxReportsPerDay, autoBlock: cfg.AutoBlock,
	}
	if err := s.Reload(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload rebuilds the matching index from a full scan of the store. The
// service calls it at start; an operator or a follower that fell behind
// (Index.OutOfOrder) may call it again. Lookups go on meanwhile.
func (s *Service) Reload(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	hint, err := s.store.CountEntries(ctx, EntryFilter{})
	if err != nil {
		return fmt.Errorf("blocklist: count entries: %w", err)
	}
	b := NewIndexBuilder(hint)
	seq, err := s.store.ScanEntries(ctx, func(e Entry) error {
		b.Add(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: scan entries: %w", err)
	}
	x, err := b.Build(seq)
	if err != nil {
		return err
	}
	s.index.replace(x)
	return nil
}

// Index returns the service's matching index, for metrics and benchmarks.
func (s *Service) Index() *Index { return s.index }

// write runs one store write that returns changes and applies them to the
// index before any later write can.
func (s *Service) write(fn func() ([]Change, error)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	changes, err := fn()
	s.index.Apply(changes...)
	return err
}

// clock returns now as stored: UTC, to the millisecond.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Page tokens are opaque to clients; they carry the last key of a page.
func encodeToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || len(b) > 256 {
		return "", fault.Invalid("page_token", "is not a page token this service issued")
	}
	return string(b), nil
}
