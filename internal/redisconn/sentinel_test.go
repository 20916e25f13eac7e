package redisconn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/redisconn"
	"github.com/callverify/callverify/internal/redistest"
)

// failoverBound is how long the client may take to write again after its
// master died: the sentinels see it down after 1 s, agree, elect a leader
// and promote the replica within a few seconds.
const failoverBound = 15 * time.Second

func TestSentinelClientRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := redistest.Sentinel(t)
	cfg := set.Config()
	if got, want := cfg.Kind(), redisconn.Sentinel; got != want {
		t.Fatalf("Kind of %+v = %v, want %v", cfg, got, want)
	}
	c, err := redisconn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.Client); !ok {
		t.Errorf("New(%+v) = %T, want a *redis.Client (failover)", cfg, c)
	}
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Fatalf("Ping = %v, want nil", err)
	}
	key := redistest.Prefix(t) + "k"
	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Errorf("GET %s = %q, %v; want \"v\"", key, got, err)
	}
	// The write went to the master the sentinels name, not elsewhere.
	direct := redis.NewClient(&redis.Options{Addr: set.Master(t).Addr(), DisableIdentity: true})
	defer direct.Close()
	if got, err := direct.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Errorf("GET %s on the master %s = %q, %v; want \"v\"", key, set.Master(t).Addr(), got, err)
	}
}

// The master dies: while no master answers, Ping says UNAVAILABLE; once
// the sentinels have promoted the replica, the same client writes there,
// and an acknowledged, replicated write survives.
func TestSentinelClientFollowsFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := redistest.NewSentinel(t, "failover")
	c, err := redisconn.New(set.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous: WAIT until the replica has the write, so
	// the failover cannot lose it.
	if n, err := c.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want 1 replica", n, err)
	}

	old := set.KillMaster(t)
	killed := time.Now()
	if old != set.Servers()[0] {
		t.Fatalf("killed %s, want the first master %s", old.Addr(), set.Servers()[0].Addr())
	}
	// The sentinels need a second of silence before they even suspect the
	// master: until then they name the dead one.
	if err := redisconn.Ping(ctx, c); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("Ping with the master dead = %v, want fault.ErrUnavailable", err)
	}

	for {
		err := c.Set(ctx, "after", "2", 0).Err()
		if err == nil {
			break
		}
		if time.Since(killed) > failoverBound {
			t.Fatalf("no write within %v of killing the master: %v", failoverBound, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("writes work again %v after the master was killed", time.Since(killed).Round(time.Millisecond))

	if got, want := set.Master(t), set.Servers()[1]; got != want {
		t.Errorf("master after the failover is %s, want the replica %s", got.Addr(), want.Addr())
	}
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Errorf("Ping after the failover = %v, want nil", err)
	}
	if got, err := c.Get(ctx, "before").Result(); err != nil || got != "1" {
		t.Errorf("GET before after the failover = %q, %v; want \"1\" (replicated before the kill)", got, err)
	}
	if got, err := c.Get(ctx, "after").Result(); err != nil || got != "2" {
		t.Errorf("GET after = %q, %v; want \"2\"", got, err)
	}
}
