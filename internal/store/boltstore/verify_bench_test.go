package boltstore_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/verify"
)

// BenchmarkCreateCall measures stamping at the store: one caller and ~50
// concurrent ones (b.SetParallelism over GOMAXPROCS), each call with its
// audit event, every one fsynced before it returns.
//
//	go test -run '^$' -bench CreateCall -benchtime 1s ./internal/store/boltstore/
func BenchmarkCreateCall(b *testing.B) {
	for _, bc := range []struct {
		name    string
		callers int
	}{{"c=1", 1}, {"c=50", 50}} {
		b.Run(bc.name, func(b *testing.B) {
			db := openDB(b)
			bl, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
			if err != nil {
				b.Fatal(err)
			}
			vs, err := boltstore.NewVerifyStore(db)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			line := phone.Number("+8657188881234")
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			if _, err := bl.CreateOfficialNumber(ctx, blocklist.OfficialNumber{Number: line, DisplayName: "Bank", Direction: blocklist.DirectionOutbound}, now, audit.Event{}); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			stamp := func() {
				// Each stamp to another customer, as dialers call a list.
				callee := phone.Number(fmt.Sprintf("+86138%08d", n.Add(7919)%100_000_000))
				c := verify.Call{ID: vs.NewCallID(callee), Caller: line, Callee: callee,
					AgentID: "agent-7", AgentName: "Li Wei", OrigID: "pbx-1", CreateBy: "dialer-1",
					State: verify.StateActive, CreateTime: now, ExpireTime: now.Add(5 * time.Minute),
					SealedSecret: make([]byte, 48)}
				if err := vs.CreateCall(ctx, c, audit.Event{Actor: "dialer-1", Action: "call.create", Target: c.ID}); err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if bc.callers == 1 {
				for range b.N {
					stamp()
				}
				return
			}
			b.SetParallelism(max(1, bc.callers/runtime.GOMAXPROCS(0)))
			var (
				mu   sync.Mutex
				took []time.Duration
			)
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					stamp()
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				took = append(took, mine...)
				mu.Unlock()
			})
			// The latency each caller saw: with group commit a stamp waits
			// for the commit under way, then for its own.
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
