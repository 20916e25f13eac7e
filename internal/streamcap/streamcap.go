package streamcap

import (
	"context"
	"errors"
	"sync"
)

// ErrFull is Acquire's answer when the key has all its places taken.
var ErrFull = errors.New("streamcap: every place of the key is taken")

// Cap hands out at most a fixed number of places per key.
type Cap interface {
	// Acquire takes one of key's places, or fails with ErrFull (or, for a
	// shared cap, with the error that kept it from asking).
	Acquire(ctx context.Context, key string) (Lease, error)
}

// Lease is one place taken.
type Lease interface {
	// Renew says the stream still runs; a shared cap gives the place back
	// by itself when nobody renews it for its TTL.
	Renew(ctx context.Context) error
	// Release gives the place back; twice is harmless.
	Release(ctx context.Context) error
}

// Local counts places on this instance.
type Local struct {
	mu   sync.Mutex
	max  int
	open map[string]int
}

var _ Cap = (*Local)(nil)

// NewLocal returns a cap of max places per key on this instance.
func NewLocal(max int) *Local { return &Local{max: max, open: map[string]int{}} }

// Acquire implements Cap.
func (l *Local) Acquire(ctx context.Context, key string) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return nil, ErrFull
	}
	l.open[key]++
	return &localLease{l: l, key: key}, nil
}

type localLease struct {
	l    *Local
	key  string
	once sync.Once
}

func (*localLease) Renew(context.Context) error { return nil }

func (x *localLease) Release(context.Context) error {
	x.once.Do(func() {
		x.l.mu.Lock()
		defer x.l.mu.Unlock()
		if x.l.open[x.key]--; x.l.open[x.key] <= 0 {
			delete(x.l.open, x.key)
		}
	})
	return nil
}
