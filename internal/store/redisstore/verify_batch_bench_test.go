package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/callverify/callverify/internal/redistest"
)

// BenchmarkListCallsToWithLine is CheckCaller's read of a live line from 50
// goroutines at once (the load harness's c=50) on a standalone server;
// redis-µs/op is the CPU redis-server spent per read (INFO cpu), batches
// sharing their round trips included.
func BenchmarkListCallsToWithLine(b *testing.B) {
	rdb := redistest.Standalone(b).Client(b)
	f := newBatchFixture(b, rdb, 4, 64)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(25) // 50 goroutines on 2 cores
	before := redistest.CPUTime(b, rdb)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			customer, line := f.customers[i%len(f.customers)], f.lines[i%len(f.lines)]
			calls, got, err := f.vs.ListCallsToWithLine(ctx, customer, line, f.now, 100)
			if err != nil {
				b.Error(err)
				return
			}
			if msg := f.check(customer, line, calls, got); msg != "" {
				b.Error(msg)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((redistest.CPUTime(b, rdb)-before).Microseconds())/float64(b.N), "redis-µs/op")
}
