package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// TestCodeAttemptsFromTwoInstances: confirmations of one call arrive at
// once through two separate clients (two instances of the service): never
// more wrong attempts than the limit, one lock event, and the right code
// matches exactly once.
func TestCodeAttemptsFromTwoInstances(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := layout(t)
			var stores [2]*redisstore.VerifyStore
			for i := range stores {
				vs, err := redisstore.NewVerifyStore(b.client(t), redisstore.VerifyOptions{Layout: l, HMAC: testRing, KEK: testKEK, CallRetention: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				stores[i] = vs
			}
			first := stores[0]
			as, err := redisstore.NewAuditStore(b.client(t), l)
			if err != nil {
				t.Fatal(err)
			}
			o := officials{rdb: b.client(t), prefix: l.Prefix, calls: first}
			line := phone.Number("+8657188881234")
			if err := o.AddOfficial(ctx, line, true); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			stamp := func(callee phone.Number) string {
				id := first.NewCallID(callee)
				c := verify.Call{ID: id, Caller: line, Callee: callee, State: verify.StateActive, CreateBy: "dialer-1",
					CreateTime: now, ExpireTime: now.Add(10 * time.Minute), SealedSecret: []byte{1}}
				if err := first.CreateCall(ctx, c, audit.Event{Action: "call.stamp", Time: now}); err != nil {
					t.Fatal(err)
				}
				return id
			}
			type result struct {
				match bool
				err   error
			}
			attempt := func(id string, steps []int64, limit int) []result {
				var wg sync.WaitGroup
				out := make([]result, len(steps))
				for i, step := range steps {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, ok, err := stores[i%2].RecordCodeAttempt(ctx, id, step, limit, now.Add(time.Minute),
							audit.Event{Action: "call.lock", Target: id, Time: now}, audit.Event{Action: "call.confirm", Target: id, Time: now})
						out[i] = result{ok, err}
					}()
				}
				wg.Wait()
				return out
			}

			// Wrong codes and right ones at once, limit 5.
			const limit = 5
			mixed := stamp("+8613800138000")
			var steps []int64
			for i := range 30 {
				if i%3 == 0 {
					steps = append(steps, 100)
				} else {
					steps = append(steps, 0)
				}
			}
			matches, wrong := 0, 0
			for _, r := range attempt(mixed, steps, limit) {
				switch {
				case r.err != nil && !errors.Is(r.err, fault.ErrConflict):
					t.Fatalf("RecordCodeAttempt: %v", r.err)
				case r.err != nil:
				case r.match:
					matches++
				default:
					wrong++
				}
			}
			c, err := first.GetCall(ctx, mixed)
			if err != nil {
				t.Fatal(err)
			}
			if matches > 1 || wrong != limit || c.WrongAttempts != limit || c.State != verify.StateLocked {
				t.Fatalf("%d matches, %d wrong answered, stored %d wrong in state %v; want at most 1 match and exactly %d wrong, LOCKED", matches, wrong, c.WrongAttempts, c.State, limit)
			}
			locks, _, err := as.ListAuditEvents(ctx, audit.Filter{Action: "call.lock"}, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(locks) != 1 || locks[0].Target != mixed {
				t.Fatalf("lock events %+v, want exactly one for %s", locks, mixed)
			}

			// The right code only, from everyone at once: one match.
			right := stamp("+8613900139000")
			steps = steps[:0]
			for range 20 {
				steps = append(steps, 100)
			}
			mixedMatches := matches
			matches, wrong = 0, 0
			for _, r := range attempt(right, steps, 100) {
				switch {
				case r.err != nil:
					t.Fatalf("RecordCodeAttempt: %v", r.err)
				case r.match:
					matches++
				default:
					wrong++
				}
			}
			if matches != 1 || wrong != 19 {
				t.Fatalf("%d matches and %d wrong, want 1 and 19", matches, wrong)
			}
			confirms, _, err := as.ListAuditEvents(ctx, audit.Filter{Action: "call.confirm"}, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			perCall := map[string]int{}
			for _, e := range confirms {
				perCall[e.Target]++
			}
			if len(confirms) != 1+mixedMatches || perCall[right] != 1 || perCall[mixed] != mixedMatches {
				t.Fatalf("confirm events %+v, want one for %s and %d for %s", confirms, right, mixedMatches, mixed)
			}
		})
	}
}
