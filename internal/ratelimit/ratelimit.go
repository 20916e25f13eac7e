package ratelimit

import (
	"container/list"
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter decides whether the holder of key may make one more request. A
// refusal says when to retry; an error means the limiter could not decide,
// and the caller must refuse.
type Limiter interface {
	Allow(ctx context.Context, key string) (allowed bool, retryAfter time.Duration, err error)
}

// MemoryConfig configures a Memory limiter.
type MemoryConfig struct {
	// Rate is the sustained rate per key, Burst what a fresh key may spend
	// at once.
	Rate  rate.Limit
	Burst int
	// MaxKeys bounds the keys held (default 100,000).
	MaxKeys int
	// SweepInterval is how often Run drops the keys whose buckets have
	// refilled (default one minute).
	SweepInterval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Memory is a token bucket per key, held in this process.
//
// Memory is bounded by MaxKeys. When a new key arrives and the table is
// full, the least recently seen key is evicted, not the newcomer refused:
// refusing would let anyone who controls MaxKeys addresses (an IPv6 /48
// holds 65,536 /64s) lock every new client out, while eviction only
// forgets the bucket of the key idle longest, and a client gains from that
// no more than from one more address of its own. The per-instance global
// cap bounds what all keys together may do.
type Memory struct {
	rate     rate.Limit
	burst    int
	maxKeys  int
	interval time.Duration
	now      func() time.Time
	// full is how long an untouched bucket takes to refill from empty; a
	// key idle that long is as good as new and may be forgotten.
	full time.Duration

	mu   sync.Mutex
	keys map[string]*list.Element
	lru  *list.List // of *entry, most recently seen first

	evicted atomic.Uint64
}

type entry struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter; call Run to sweep it.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.Rate <= 0 || cfg.Burst <= 0 {
		return nil, errors.New("ratelimit: Rate and Burst must be positive")
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Capped at a century so that a tiny rate cannot overflow a Duration.
	full := 100 * 365 * 24 * time.Hour
	if secs := float64(cfg.Burst) / float64(cfg.Rate); secs < full.Seconds() {
		full = time.Duration(math.Ceil(secs * float64(time.Second)))
	}
	return &Memory{
		rate: cfg.Rate, burst: cfg.Burst, maxKeys: cfg.MaxKeys, interval: cfg.SweepInterval, now: cfg.Now,
		full: full, keys: make(map[string]*list.Element), lru: list.New(),
	}, nil
}

// Allow takes a token from key's bucket.
func (m *Memory) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var e *entry
	if el, ok := m.keys[key]; ok {
		e = el.Value.(*entry)
		m.lru.MoveToFront(el)
	} else {
		if m.lru.Len() >= m.maxKeys {
			oldest := m.lru.Back()
			m.lru.Remove(oldest)
			delete(m.keys, oldest.Value.(*entry).key)
			m.evicted.Add(1)
		}
		e = &entry{key: key, lim: rate.NewLimiter(m.rate, m.burst)}
		m.keys[key] = m.lru.PushFront(e)
	}
	e.seen = now
	if e.lim.AllowN(now, 1) {
		return true, 0, nil
	}
	missing := 1 - e.lim.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / float64(m.rate) * float64(time.Second))), nil
}

// sweepChunk bounds the keys dropped per hold of the lock, so a large
// sweep never stalls requests for long.
const sweepChunk = 1024

// Sweep drops every key whose bucket has refilled since it was last seen
// (forgetting it changes nothing) and returns how many it dropped.
func (m *Memory) Sweep() int {
	cutoff := m.now().Add(-m.full)
	dropped := 0
	for {
		n, more := m.sweepSome(cutoff)
		dropped += n
		if !more {
			return dropped
		}
	}
}

func (m *Memory) sweepSome(cutoff time.Time) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := 0; n < sweepChunk; n++ {
		el := m.lru.Back()
		if el == nil || el.Value.(*entry).seen.After(cutoff) {
			return n, false
		}
		m.lru.Remove(el)
		delete(m.keys, el.Value.(*entry).key)
	}
	return sweepChunk, true
}

// Run sweeps every SweepInterval until ctx is done.
func (m *Memory) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// Len is the number of keys held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// Evicted is the number of keys evicted because the table was full.
func (m *Memory) Evicted() uint64 { return m.evicted.Load() }
