// Package ratelimittest is the contract every ratelimit.Limiter must keep:
// the in-memory one and the shared one on Redis (redislimit). It uses no
// clock, so a limiter whose time is not injectable (Redis's) passes it too.
package ratelimittest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/time/rate"

	"github.com/callverify/callverify/internal/ratelimit"
)

// NewLimiter returns a fresh, empty limiter with the given rate and burst.
type NewLimiter func(t *testing.T, r rate.Limit, burst int) ratelimit.Limiter

// Run checks the contract.
func Run(t *testing.T, newLimiter NewLimiter) {
	t.Helper()
	// One token an hour: nothing refills while a test runs.
	const slow = rate.Limit(1.0 / 3600)

	t.Run("BurstThenRefusedWithRetryAfter", func(t *testing.T) {
		l := newLimiter(t, slow, 3)
		for i := 0; i < 3; i++ {
			ok, _, err := l.Allow(context.Background(), "a")
			if err != nil || !ok {
				t.Fatalf("request %d within the burst: allowed %v, err %v", i+1, ok, err)
			}
		}
		ok, retry, err := l.Allow(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Fatal("request past the burst was allowed")
		}
		if retry <= 0 {
			t.Errorf("retryAfter = %v, want > 0", retry)
		}
	})
	t.Run("KeysAreIndependent", func(t *testing.T) {
		l := newLimiter(t, slow, 1)
		for _, k := range []string{"a", "b", "c"} {
			if ok, _, err := l.Allow(context.Background(), k); err != nil || !ok {
				t.Fatalf("first request of %s: allowed %v, err %v", k, ok, err)
			}
		}
		if ok, _, _ := l.Allow(context.Background(), "a"); ok {
			t.Error("a's second request was allowed")
		}
	})
	t.Run("ConcurrentRequestsSpendTheBurstExactlyOnce", func(t *testing.T) {
		const burst, callers = 10, 50
		l := newLimiter(t, slow, burst)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, _, err := l.Allow(context.Background(), "shared")
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		if got := allowed.Load(); got != burst {
			t.Errorf("%d concurrent requests: %d allowed, want exactly %d", callers, got, burst)
		}
	})
	t.Run("KeysMayHoldAnyText", func(t *testing.T) {
		l := newLimiter(t, slow, 1)
		for i, k := range []string{"ip:2001:db8::/64", "ip:198.51.100.1", "", "a b\nc", fmt.Sprint("ü", 1)} {
			if ok, _, err := l.Allow(context.Background(), k); err != nil || !ok {
				t.Errorf("key %d %q: allowed %v, err %v", i, k, ok, err)
			}
		}
	})
}
