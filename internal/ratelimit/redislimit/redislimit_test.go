package redislimit_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/ratelimit"
	"github.com/callverify/callverify/internal/ratelimit/ratelimittest"
	"github.com/callverify/callverify/internal/ratelimit/redislimit"
	"github.com/callverify/callverify/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// slow is one token an hour: nothing refills while a test runs.
const slow = rate.Limit(1.0 / 3600)

func testKeys(t testing.TB) hmackeys.Ring {
	t.Helper()
	r, err := hmackeys.New(bytes.Repeat([]byte{7}, hmackeys.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustNew(t testing.TB, cfg redislimit.Config) *redislimit.Limiter {
	t.Helper()
	l, err := redislimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// deployments are the Redis servers every behaviour is checked on.
var deployments = []struct {
	name   string
	client func(t testing.TB) redis.UniversalClient
}{
	{"Standalone", func(t testing.TB) redis.UniversalClient { return redistest.Standalone(t).Client(t) }},
	{"Cluster", func(t testing.TB) redis.UniversalClient { return redistest.Cluster(t).Client(t) }},
}

func TestKeepsTheLimiterContract(t *testing.T) {
	t.Parallel()
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			client := d.client(t)
			ratelimittest.Run(t, func(t *testing.T, r rate.Limit, burst int) ratelimit.Limiter {
				return mustNew(t, redislimit.Config{
					Client: client, Prefix: redistest.Prefix(t), Name: "contract", Rate: r, Burst: burst, Keys: testKeys(t),
				})
			})
		})
	}
}

// TestTwoClientsShareOneBudget: two instances (two limiters on two
// connection pools) on one Redis spend one bucket per key: 12 requests
// taking turns, burst 5, allow exactly 5 in all, not 5 each.
func TestTwoClientsShareOneBudget(t *testing.T) {
	t.Parallel()
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			prefix := redistest.Prefix(t)
			var lims [2]*redislimit.Limiter
			for i := range lims {
				lims[i] = mustNew(t, redislimit.Config{
					Client: d.client(t), Prefix: prefix, Name: "lookup", Rate: slow, Burst: 5, Keys: testKeys(t),
				})
			}
			allowed := [2]int{}
			for i := 0; i < 12; i++ {
				ok, _, err := lims[i%2].Allow(context.Background(), "lookup:198.51.100.7")
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					allowed[i%2]++
				}
			}
			if got, want := allowed[0]+allowed[1], 5; got != want {
				t.Errorf("allowed %d (%d on the first, %d on the second), want %d in all", got, allowed[0], allowed[1], want)
			}
		})
	}
}

// TestRetryAfterIsWhenTheNextTokenComesBack: burst 1, one token an hour:
// the refusal right after the first request says to retry in just under
// an hour (Redis's clock has moved a little since).
func TestRetryAfterIsWhenTheNextTokenComesBack(t *testing.T) {
	t.Parallel()
	l := mustNew(t, redislimit.Config{
		Client: redistest.Standalone(t).Client(t), Prefix: redistest.Prefix(t), Name: "retry", Rate: slow, Burst: 1, Keys: testKeys(t),
	})
	ctx := context.Background()
	if ok, _, err := l.Allow(ctx, "k"); err != nil || !ok {
		t.Fatalf("first request: allowed %v, err %v", ok, err)
	}
	ok, retry, err := l.Allow(ctx, "k")
	if err != nil || ok {
		t.Fatalf("second request: allowed %v, err %v; want refused", ok, err)
	}
	if retry <= time.Hour-time.Minute || retry > time.Hour {
		t.Errorf("retryAfter %v, want within a minute below 1h", retry)
	}
}

// TestKeysAreHashTaggedHMACsWithNoAddressInPlain: each bucket is one key
// "rate:{P:rl:NAME:HMAC}" whose hash tag is the whole name (so buckets
// spread over a Cluster's slots) and which expires; neither key nor value
// holds the client's address; another HMAC key gives other names.
func TestKeysAreHashTaggedHMACsWithNoAddressInPlain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Standalone(t).Client(t)
	prefix := redistest.Prefix(t)
	l := mustNew(t, redislimit.Config{Client: client, Prefix: prefix, Name: "lookup", Rate: slow, Burst: 2, Keys: testKeys(t)})
	addrs := []string{"lookup:198.51.100.7", "lookup:2001:db8:1:2::/64", "lookup:unknown"}
	for _, a := range addrs {
		if _, _, err := l.Allow(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := client.Keys(ctx, "rate:{"+prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(keys), len(addrs); got != want {
		t.Fatalf("%d keys %q, want %d", got, keys, want)
	}
	layout := regexp.MustCompile(`^rate:\{` + regexp.QuoteMeta(strings.TrimSuffix(prefix, ":")) + `:rl:lookup:[A-Za-z0-9_-]{43}\}$`)
	for _, k := range keys {
		if !layout.MatchString(k) {
			t.Errorf("key %q does not follow %s", k, layout)
		}
		v, err := client.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		ttl, err := client.TTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 2*time.Hour+time.Second {
			t.Errorf("key %q expires in %v, want within the 2h a burst of 2 takes to refill", k, ttl)
		}
		for _, a := range addrs {
			if strings.Contains(k, strings.TrimPrefix(a, "lookup:")) || strings.Contains(v, strings.TrimPrefix(a, "lookup:")) {
				t.Errorf("key %q = %q holds %q in plain", k, v, a)
			}
		}
	}

	other, err := hmackeys.New(bytes.Repeat([]byte{8}, hmackeys.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	l2 := mustNew(t, redislimit.Config{Client: client, Prefix: prefix, Name: "lookup", Rate: slow, Burst: 2, Keys: other})
	if _, _, err := l2.Allow(ctx, addrs[0]); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Keys(ctx, "rate:{"+prefix+"*").Result(); err != nil || len(n) != len(addrs)+1 {
		t.Errorf("after a request under another HMAC key: %d keys (err %v), want %d", len(n), err, len(addrs)+1)
	}
}

// TestRedisDownIsAnErrorAndRecoversByItself: with Redis stopped, Allow
// returns an error and refuses (never allows); once Redis is back, the
// same limiter answers again with no restart.
func TestRedisDownIsAnErrorAndRecoversByItself(t *testing.T) {
	t.Parallel()
	srv := redistest.NewServer(t, redistest.Options{})
	l := mustNew(t, redislimit.Config{Client: srv.Client(t), Name: "lookup", Rate: slow, Burst: 3, Keys: testKeys(t)})
	ctx := context.Background()
	if ok, _, err := l.Allow(ctx, "k"); err != nil || !ok {
		t.Fatalf("with Redis up: allowed %v, err %v", ok, err)
	}
	srv.Stop(t)
	for i := 0; i < 3; i++ {
		ok, _, err := l.Allow(ctx, "k")
		if err == nil || ok {
			t.Fatalf("request %d with Redis down: allowed %v, err %v; want refused with an error", i+1, ok, err)
		}
	}
	srv.Start(t)
	if ok, _, err := l.Allow(ctx, "k"); err != nil || !ok {
		t.Fatalf("with Redis back: allowed %v, err %v", ok, err)
	}
}

func TestNewRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { client.Close() })
	good := redislimit.Config{Client: client, Name: "lookup", Rate: 1, Burst: 1, Keys: testKeys(t)}
	for _, tc := range []struct {
		name   string
		change func(*redislimit.Config)
		want   string
	}{
		{"no client", func(c *redislimit.Config) { c.Client = nil }, "no Redis client"},
		{"brace in prefix", func(c *redislimit.Config) { c.Prefix = "cv{x}" }, "brace"},
		{"no name", func(c *redislimit.Config) { c.Name = "" }, "limit name"},
		{"name with a colon", func(c *redislimit.Config) { c.Name = "a:b" }, "limit name"},
		{"zero rate", func(c *redislimit.Config) { c.Rate = 0 }, "positive, finite rate"},
		{"infinite rate", func(c *redislimit.Config) { c.Rate = rate.Inf }, "positive, finite rate"},
		{"rate too small", func(c *redislimit.Config) { c.Rate = 1e-12 }, "more than"},
		{"rate too large", func(c *redislimit.Config) { c.Rate = 1e10 }, "nanosecond"},
		{"zero burst", func(c *redislimit.Config) { c.Burst = 0 }, "burst 0"},
		{"no HMAC key", func(c *redislimit.Config) { c.Keys = hmackeys.Ring{} }, "no HMAC key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tc.change(&cfg)
			_, err := redislimit.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := redislimit.New(good); err != nil {
		t.Errorf("New(a good config): %v", err)
	}
}
