// Package streamcaptest is the contract every streamcap.Cap passes. It must
// never be used outside tests.
package streamcaptest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/callverify/callverify/internal/streamcap"
)

// Run checks a cap of max places per key made by newCap (max >= 2).
func Run(t *testing.T, max int, newCap func(t *testing.T) streamcap.Cap) {
	t.Run("AtMostMaxPlacesPerKey", func(t *testing.T) {
		t.Parallel()
		c := newCap(t)
		ctx := context.Background()
		var leases []streamcap.Lease
		for i := range max {
			l, err := c.Acquire(ctx, "alice")
			if err != nil {
				t.Fatalf("place %d of %d: %v", i+1, max, err)
			}
			leases = append(leases, l)
		}
		if _, err := c.Acquire(ctx, "alice"); !errors.Is(err, streamcap.ErrFull) {
			t.Fatalf("place %d: %v, want ErrFull", max+1, err)
		}
		if l, err := c.Acquire(ctx, "bob"); err != nil {
			t.Fatalf("another key: %v", err)
		} else {
			defer l.Release(ctx)
		}
		if err := leases[0].Renew(ctx); err != nil {
			t.Fatalf("Renew: %v", err)
		}
		if err := leases[0].Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if err := leases[0].Release(ctx); err != nil {
			t.Fatalf("Release twice: %v", err)
		}
		l, err := c.Acquire(ctx, "alice")
		if err != nil {
			t.Fatalf("after a release: %v", err)
		}
		// A second release of the first lease gave back nothing more.
		if _, err := c.Acquire(ctx, "alice"); !errors.Is(err, streamcap.ErrFull) {
			t.Fatalf("a released lease released twice freed two places: %v", err)
		}
		l.Release(ctx)
		for _, l := range leases[1:] {
			l.Release(ctx)
		}
	})
	t.Run("ConcurrentAcquiresNeverExceedMax", func(t *testing.T) {
		t.Parallel()
		c := newCap(t)
		ctx := context.Background()
		var (
			mu  sync.Mutex
			got int
			wg  sync.WaitGroup
		)
		for range 4 * max {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Acquire(ctx, "carol"); err == nil {
					mu.Lock()
					got++
					mu.Unlock()
				} else if !errors.Is(err, streamcap.ErrFull) {
					t.Errorf("Acquire: %v", err)
				}
			}()
		}
		wg.Wait()
		if got != max {
			t.Fatalf("%d concurrent acquires took %d places, want %d", 4*max, got, max)
		}
	})
}
