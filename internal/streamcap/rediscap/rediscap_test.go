package rediscap_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/streamcap"
	"github.com/callverify/callverify/internal/streamcap/rediscap"
	"github.com/callverify/callverify/internal/streamcap/streamcaptest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func ring(t testing.TB) hmackeys.Ring {
	r, err := hmackeys.New(bytes.Repeat([]byte{5}, hmackeys.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSharedCap(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"Standalone", func(t *testing.T) redis.UniversalClient { return redistest.Standalone(t).Client(t) }},
		{"Cluster", func(t *testing.T) redis.UniversalClient { return redistest.Cluster(t).Client(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			streamcaptest.Run(t, 3, func(t *testing.T) streamcap.Cap {
				c, err := rediscap.New(rediscap.Config{Client: b.client(t), Prefix: redistest.Prefix(t),
					Max: 3, TTL: time.Minute, Keys: ring(t)})
				if err != nil {
					t.Fatal(err)
				}
				return c
			})
		})
	}
}

// TestTwoInstancesShareTheCap: places taken through one client count for
// another (two instances), and Redis holds no key in plain.
func TestTwoInstancesShareTheCap(t *testing.T) {
	t.Parallel()
	srv := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	newCap := func() *rediscap.Cap {
		c, err := rediscap.New(rediscap.Config{Client: srv.Client(t), Prefix: prefix, Max: 2, TTL: time.Minute, Keys: ring(t)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newCap(), newCap()
	ctx := context.Background()
	if _, err := a.Acquire(ctx, "+8613800138000"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "+8613800138000"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(ctx, "+8613800138000"); !errors.Is(err, streamcap.ErrFull) {
		t.Fatalf("a third place across two instances: %v, want ErrFull", err)
	}
	keys, err := srv.Client(t).Keys(ctx, strings.TrimSuffix(prefix, ":")+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "13800138000") {
			t.Fatalf("key %q holds the number", k)
		}
	}
}
