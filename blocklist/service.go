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
	// Follow tunes the follower that keeps the matching index in step with
	// the store; its zero value is the production setting.
	Follow Follow
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

// Service is the numbers domain. It is safe for concurrent use. Close it to
// stop its follower.
type Service struct {
	store  Store
	audit  *audit.Recorder
	phone  *phone.Parser
	now    func() time.Time
	index  *Index
	follow *follower
	// closeOnce writes the snapshot at the first Close only.
	closeOnce sync.Once

	maxReportsPerDay int
	autoBlock        AutoBlock
}

// NewService returns a Service over cfg. It loads the matching index from a
// full scan of the store before it returns, so Match is right from the
// first call, and starts the follower that keeps the index in step with the
// store's change log (every instance's writes, not only this one's) until
// Close.
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
	s.follow = newFollower(cfg.Store, s.index, cfg.Follow)
	// The first load runs here, before the follower's goroutine starts, so
	// the follower is still the index's only writer.
	if err := s.follow.loadFirst(context.Background()); err != nil {
		return nil, err
	}
	s.follow.start()
	return s, nil
}

// Close stops the follower; Match then answers from the index as it was.
// With Follow.Snapshot (or Snapshots) set, the first Close writes the
// index's snapshot for the next start. It is safe to call more than once.
func (s *Service) Close() error {
	s.follow.stop()
	var err error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = s.follow.saveSnapshot(ctx)
	})
	return err
}

// Reload has the follower rebuild the matching index from a full scan of
// the store and returns once it has. The follower reloads by itself on a
// gap in the change log or after the store failed; an operator may ask for
// it too. Lookups go on meanwhile.
func (s *Service) Reload(ctx context.Context) error {
	return s.follow.forceReload(ctx)
}

// Index returns the service's matching index, for metrics and benchmarks.
// Only the service's follower writes it.
func (s *Service) Index() *Index { return s.index }

// IndexStats describes the index and its follower, for metrics and
// readiness.
func (s *Service) IndexStats() IndexStats { return s.follow.stats() }

// write runs one store write that returns its changes, then waits (bounded
// by ctx) until the follower has applied the last of them, so the caller
// reads its own write in Match. The store orders writes, here and on every
// other instance; the index learns of them only from the change log, so a
// write whose answer is lost (a timeout after the commit) reaches the index
// all the same.
func (s *Service) write(ctx context.Context, fn func() ([]Change, error)) error {
	changes, err := fn()
	if err != nil {
		return err
	}
	var seq uint64
	for _, c := range changes {
		seq = max(seq, c.Seq)
	}
	if seq == 0 {
		return nil
	}
	s.follow.poke()
	return s.follow.waitFor(ctx, seq)
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
