package redislimit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/ratelimit"
)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "cv"

// hmacLabel separates the limiter's HMACs from the ring's other uses (the
// stores' pseudonyms of customers), so that no HMAC of one is the other's.
const hmacLabel = "ratelimit\x00"

// Config configures a Limiter.
type Config struct {
	// Client reaches Redis: standalone, Sentinel or Cluster.
	Client redis.UniversalClient
	// Prefix starts every key's hash tag (DefaultPrefix when empty; a
	// trailing ':' is dropped). It may not hold '{' or '}'.
	Prefix string
	// Name tells this limit's keys from another's on the same Redis, such
	// as "lookup" and "lookup-global"; letters, digits, '-' and '_'.
	Name string
	// Rate is the sustained rate per key, Burst what a fresh key may spend
	// at once.
	Rate  rate.Limit
	Burst int
	// Keys turn the keys given to Allow into the HMACs in Redis; only the
	// first (writing) key is used. Rotating it starts every bucket afresh
	// once, which gives a client at most one more burst.
	Keys hmackeys.Ring
}

// Limiter is a GCRA bucket per key in Redis. Time is Redis's (the script
// reads TIME), so instances with skewed clocks still share one budget.
type Limiter struct {
	rl     *redis_rate.Limiter
	limit  redis_rate.Limit
	prefix string
	keys   hmackeys.Ring
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// maxPeriod bounds the time one token takes to come back, so that a tiny
// rate cannot overflow a Duration.
const maxPeriod = 100 * 365 * 24 * time.Hour

// New returns a Limiter; it does not touch the network.
func New(cfg Config) (*Limiter, error) {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, errors.New("no Redis client"))
	}
	prefix := strings.TrimSuffix(cfg.Prefix, ":")
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		errs = append(errs, fmt.Errorf("key prefix %q holds a brace, which would break the hash tag", cfg.Prefix))
	}
	if cfg.Name == "" || strings.IndexFunc(cfg.Name, notNameRune) >= 0 {
		errs = append(errs, fmt.Errorf("limit name %q: want letters, digits, '-' and '_'", cfg.Name))
	}
	// A token comes back every period: one over Rate seconds.
	var period time.Duration
	switch {
	case math.IsNaN(float64(cfg.Rate)) || cfg.Rate <= 0 || cfg.Rate == rate.Inf || math.IsInf(float64(cfg.Rate), 0):
		errs = append(errs, fmt.Errorf("rate %v: want a positive, finite rate", float64(cfg.Rate)))
	case float64(time.Second)/float64(cfg.Rate) > float64(maxPeriod):
		errs = append(errs, fmt.Errorf("rate %v: one token would take more than %v", float64(cfg.Rate), maxPeriod))
	default:
		period = time.Duration(math.Round(float64(time.Second) / float64(cfg.Rate)))
		if period <= 0 {
			errs = append(errs, fmt.Errorf("rate %v: more than one token a nanosecond", float64(cfg.Rate)))
		}
	}
	if cfg.Burst <= 0 {
		errs = append(errs, fmt.Errorf("burst %d: want at least 1", cfg.Burst))
	}
	if cfg.Keys.Len() == 0 {
		errs = append(errs, errors.New("no HMAC key for the limiter's keys"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("redislimit: %w", err)
	}
	return &Limiter{
		rl:     redis_rate.NewLimiter(cfg.Client),
		limit:  redis_rate.Limit{Rate: 1, Period: period, Burst: cfg.Burst},
		prefix: prefix + ":rl:" + cfg.Name + ":",
		keys:   cfg.Keys,
	}, nil
}

func notNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// tag is the name of key's bucket, which redis_rate turns into the Redis
// key "rate:" + tag. The hash tag holds the whole name, so buckets spread
// over a Cluster's slots, one slot each.
func (l *Limiter) tag(key string) string {
	sum := l.keys.Sum([]byte(hmacLabel + key))
	return "{" + l.prefix + base64.RawURLEncoding.EncodeToString(sum) + "}"
}

// Allow takes a token from key's bucket. A Redis error is returned as is
// (wrapped), and the caller must refuse.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := l.rl.Allow(ctx, l.tag(key), l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("redislimit: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Nanosecond), nil
}
