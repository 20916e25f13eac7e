package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

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
	before := redisCPU(b, rdb)
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
	b.ReportMetric((redisCPU(b, rdb)-before)*1e6/float64(b.N), "redis-µs/op")
}

// redisCPU is the CPU seconds the server has spent (used_cpu_sys +
// used_cpu_user of INFO cpu).
func redisCPU(b *testing.B, rdb redis.UniversalClient) float64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, l := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(l, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += x
		}
	}
	return total
}
