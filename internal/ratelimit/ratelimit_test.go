package ratelimit_test

import (
	"context"
	"fmt"
	"github.com/callverify/callverify/internal/clocktest"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/callverify/callverify/internal/ratelimit"
	"github.com/callverify/callverify/internal/ratelimit/ratelimittest"
)

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)) }

func TestMemoryKeepsTheLimiterContract(t *testing.T) {
	t.Parallel()
	ratelimittest.Run(t, func(t *testing.T, r rate.Limit, burst int) ratelimit.Limiter {
		m, err := ratelimit.NewMemory(ratelimit.MemoryConfig{Rate: r, Burst: burst})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func mustMemory(t *testing.T, cfg ratelimit.MemoryConfig) *ratelimit.Memory {
	t.Helper()
	m, err := ratelimit.NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMemoryRefillsAtItsRateAndSaysWhenToRetry: one token a second, burst
// 2: after the burst the next request waits a second, and the answer says so.
func TestMemoryRefillsAtItsRateAndSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := mustMemory(t, ratelimit.MemoryConfig{Rate: 1, Burst: 2, Now: c.Now})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if ok, _, _ := m.Allow(ctx, "k"); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, retry, _ := m.Allow(ctx, "k")
	if ok || retry != time.Second {
		t.Fatalf("past the burst: allowed %v, retry %v; want refused, retry 1s", ok, retry)
	}
	c.Advance(400 * time.Millisecond)
	if ok, retry, _ := m.Allow(ctx, "k"); ok || retry != 600*time.Millisecond {
		t.Fatalf("0.4s later: allowed %v, retry %v; want refused, retry 600ms", ok, retry)
	}
	c.Advance(600 * time.Millisecond)
	if ok, _, _ := m.Allow(ctx, "k"); !ok {
		t.Fatal("a second later: refused")
	}
}

// TestMemoryStaysWithinMaxKeysEvictingTheLeastRecentlySeen: many keys
// never hold more than MaxKeys; the key evicted is the one idle longest,
// and a key in use keeps its (empty) bucket.
func TestMemoryStaysWithinMaxKeysEvictingTheLeastRecentlySeen(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := mustMemory(t, ratelimit.MemoryConfig{Rate: 0.001, Burst: 1, MaxKeys: 100, Now: c.Now})
	ctx := context.Background()
	if ok, _, _ := m.Allow(ctx, "busy"); !ok {
		t.Fatal("busy's first request refused")
	}
	for i := 0; i < 10_000; i++ {
		c.Advance(time.Millisecond)
		if _, _, err := m.Allow(ctx, fmt.Sprint("addr-", i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 { // busy keeps asking, and keeps being refused
			if ok, _, _ := m.Allow(ctx, "busy"); ok {
				t.Fatalf("after %d other keys, busy got a fresh bucket", i)
			}
		}
		if got := m.Len(); got > 100 {
			t.Fatalf("after %d keys: %d held, want <= 100", i+1, got)
		}
	}
	if got, want := m.Evicted(), uint64(10_000+1-100); got != want {
		t.Errorf("evicted %d, want %d", got, want)
	}
}

// TestSweepDropsOnlyRefilledKeys: a key idle for burst/rate is full again
// and is dropped; a key seen since is kept with its state.
func TestSweepDropsOnlyRefilledKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := mustMemory(t, ratelimit.MemoryConfig{Rate: 1, Burst: 10, Now: c.Now})
	ctx := context.Background()
	for i := 0; i < 3000; i++ {
		m.Allow(ctx, fmt.Sprint("old-", i))
	}
	c.Advance(5 * time.Second)
	for i := 0; i < 10; i++ {
		m.Allow(ctx, "recent")
	}
	c.Advance(5 * time.Second) // old keys: idle 10s = refilled; recent: 5s
	if got, want := m.Sweep(), 3000; got != want {
		t.Errorf("swept %d keys, want %d", got, want)
	}
	if got := m.Len(); got != 1 {
		t.Errorf("%d keys left, want 1 (recent)", got)
	}
	// recent spent 10 tokens 5s ago: 5 back, so 5 allowed, the 6th refused.
	for i := 0; i < 5; i++ {
		if ok, _, _ := m.Allow(ctx, "recent"); !ok {
			t.Fatalf("recent's request %d refused; the sweep lost its state", i+1)
		}
	}
	if ok, _, _ := m.Allow(ctx, "recent"); ok {
		t.Error("recent's 6th request allowed; the sweep reset its bucket")
	}
}

// TestRunSweepsInTheBackgroundUntilStopped: Run sweeps on its own (not on
// the request path) and returns when its context ends.
func TestRunSweepsInTheBackgroundUntilStopped(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := mustMemory(t, ratelimit.MemoryConfig{Rate: 1, Burst: 1, SweepInterval: time.Millisecond, Now: c.Now})
	m.Allow(context.Background(), "k")
	c.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for m.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not drop a refilled key within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
