package redistest

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// CPUTime is the CPU time, user and system, the Redis server behind rdb
// has used (INFO cpu), or 0 when rdb is nil (a benchmark's row without
// Redis): benchmarks report it per operation, as the machine is shared and
// CPU depends less than wall time on the others' load. On a Cluster client
// it is that of the node the command reached.
func CPUTime(tb testing.TB, rdb redis.UniversalClient) time.Duration {
	tb.Helper()
	if rdb == nil {
		return 0
	}
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					tb.Fatalf("INFO cpu: %q: %v", line, err)
				}
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// ProcessCPUTime is the CPU time, user and system, this process has used:
// a benchmark's own figure beside its Redis server's (CPUTime).
func ProcessCPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
