// Package rediscap is the streamcap.Cap that every instance on one Redis
// shares: a key's places are the members of a sorted set, each a lease
// whose score is when it lapses (Redis's clock), so that the places of an
// instance that died holding them come back by themselves after the TTL.
// The key is an HMAC under the ring's writing key: Redis holds no
// customer's number. It never decides without Redis: an unreachable Redis
// is an error, never a place.
package rediscap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/streamcap"
)

// hmacLabel keeps these HMACs apart from the ring's other uses.
const hmacLabel = "streamcap\x00"

// Config configures a Cap.
type Config struct {
	Client redis.UniversalClient
	// Prefix starts the keys' hash tag ("cv" when empty).
	Prefix string
	// Max places per key.
	Max int
	// TTL: a lease not renewed for this long lapses.
	TTL  time.Duration
	Keys hmackeys.Ring
}

// Cap is a shared cap of Max places per key.
type Cap struct {
	rdb    redis.UniversalClient
	prefix string
	max    int
	ttl    time.Duration
	keys   hmackeys.Ring
}

var _ streamcap.Cap = (*Cap)(nil)

// New returns a Cap; it does not touch the network.
func New(cfg Config) (*Cap, error) {
	prefix := strings.TrimSuffix(cfg.Prefix, ":")
	if prefix == "" {
		prefix = "cv"
	}
	switch {
	case cfg.Client == nil:
		return nil, errors.New("rediscap: no Redis client")
	case cfg.Max < 1 || cfg.TTL < time.Millisecond:
		return nil, fmt.Errorf("rediscap: %d places with a TTL of %v, want at least 1 and 1ms", cfg.Max, cfg.TTL)
	case cfg.Keys.Len() == 0:
		return nil, errors.New("rediscap: no HMAC key")
	case strings.ContainsAny(prefix, "{}"):
		return nil, fmt.Errorf("rediscap: prefix %q may not hold { or }", prefix)
	}
	return &Cap{rdb: cfg.Client, prefix: prefix, max: cfg.Max, ttl: cfg.TTL, keys: cfg.Keys}, nil
}

// key is {P:wc:H}, H the HMAC of k: one key, its own slot.
func (c *Cap) key(k string) string {
	sum := c.keys.Sum([]byte(hmacLabel + k))
	return "{" + c.prefix + ":wc:" + hex.EncodeToString(sum[:16]) + "}"
}

// scriptAcquire: KEYS the places. ARGV max, ttl ms, lease id. Lapsed
// leases go first; 1 taken, 0 full.
var scriptAcquire = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// scriptRenew: KEYS the places. ARGV ttl ms, lease id. A lapsed lease is
// not taken again (its place may be someone else's now).
var scriptRenew = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', string.format('%d', now + tonumber(ARGV[1])), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
`)

// Acquire implements streamcap.Cap.
func (c *Cap) Acquire(ctx context.Context, key string) (streamcap.Lease, error) {
	id := rand.Text()
	k := c.key(key)
	ok, err := scriptAcquire.Run(ctx, c.rdb, []string{k}, c.max, c.ttl.Milliseconds(), id).Int()
	if err != nil {
		return nil, fault.Unavailable(fmt.Errorf("redis stream cap: %w", err))
	}
	if ok == 0 {
		return nil, streamcap.ErrFull
	}
	return &lease{c: c, key: k, id: id}, nil
}

type lease struct {
	c       *Cap
	key, id string
	once    sync.Once
}

func (l *lease) Renew(ctx context.Context) error {
	if err := scriptRenew.Run(ctx, l.c.rdb, []string{l.key}, l.c.ttl.Milliseconds(), l.id).Err(); err != nil {
		return fault.Unavailable(fmt.Errorf("redis stream cap: %w", err))
	}
	return nil
}

func (l *lease) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() { err = l.c.rdb.ZRem(ctx, l.key, l.id).Err() })
	if err != nil {
		return fault.Unavailable(fmt.Errorf("redis stream cap: %w", err))
	}
	return nil
}
