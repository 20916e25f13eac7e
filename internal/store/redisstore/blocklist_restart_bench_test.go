package redisstore_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// BenchmarkBlocklistRestart measures what a callverifyd on Redis does
// before it is ready after a restart: load the blocklist's matching index
// (blocklist.NewService). It builds a blocklist of random Chinese mobile
// numbers once per run, in a private redis-server (no persistence), with
// ImportEntries batches from a few goroutines (the build is not timed);
// each op then starts a Service on it, from a scan (scan) or from the
// index snapshot kept in Redis (snapshot). Reported: ready-ms, the time of
// one start; redis-B/entry, the server's used_memory over the entries;
// snapshot-B/entry, the snapshot's size over the entries.
//
//	CALLVERIFY_BENCH_ENTRIES=1000000 go test -run '^$' -bench BlocklistRestart -benchtime 3x -timeout 30m ./internal/store/redisstore/
//
// CALLVERIFY_BENCH_ENTRIES sets the size (100,000 when unset, so that
// make bench stays short; a million take some 2 GB of Redis memory).
func BenchmarkBlocklistRestart(b *testing.B) {
	n := 100_000
	if v := os.Getenv("CALLVERIFY_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("CALLVERIFY_BENCH_ENTRIES=%q: want a positive count", v)
		}
	}
	srv := redistest.NewServer(b, redistest.Options{})
	rdb := srv.Client(b)
	ring, err := hmackeys.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{KeyPrefix: "bench", PseudonymKeys: ring})
	if err != nil {
		b.Fatal(err)
	}
	buildRedisBlocklist(b, st, n)
	before := redisUsedMemory(b, rdb)
	p, err := phone.NewParser("CN")
	if err != nil {
		b.Fatal(err)
	}
	aud := audit.NewRecorder(streamAudit{rdb: rdb, key: "{bench:dir}:audit"}, time.Now)
	snaps := st.IndexSnapshots()
	// mode is "scan" (ScanIndexEntries), "scan-entries" (ScanEntries, as
	// every start did before the index scan) or "snapshot".
	start := func(b *testing.B, mode string) time.Duration {
		runtime.GC()
		snap := mode == "snapshot"
		cfg := blocklist.Config{Store: st, Audit: aud, Phone: p}
		if mode == "scan-entries" {
			cfg.Store = wholeEntriesOnly{st}
		}
		if snap {
			cfg.Follow.Snapshots = snaps
		}
		t0 := time.Now()
		svc, err := blocklist.NewService(cfg)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		if got := svc.IndexStats(); got.Entries != n || snap && got.Reloads != 0 {
			b.Fatalf("the index holds %d entries after %d scans, want %d (and none from the snapshot: %v)", got.Entries, got.Reloads, n, snap)
		}
		if err := svc.Close(); err != nil {
			b.Fatal(err)
		}
		return took
	}
	// Sub-benchmarks, so that the build above runs once whatever b.N.
	for _, mode := range []string{"scan-entries", "scan"} {
		b.Run(mode, func(b *testing.B) {
			start(b, mode) // warm: the scripts are loaded, the connections open
			var total time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				total += start(b, mode)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ready-ms")
			b.ReportMetric(float64(before)/float64(n), "redis-B/entry")
		})
	}
	b.Run("snapshot", func(b *testing.B) {
		// A first start scans and saves the snapshot as it closes.
		svc, err := blocklist.NewService(blocklist.Config{Store: st, Audit: aud, Phone: p, Follow: blocklist.Follow{Snapshots: snaps}})
		if err != nil {
			b.Fatal(err)
		}
		if err := svc.Close(); err != nil {
			b.Fatal(err)
		}
		var total time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			total += start(b, "snapshot")
		}
		b.StopTimer()
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ready-ms")
		size, err := rdb.HGet(context.Background(), "{bench:ixs}:meta", "len").Int64()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(size)/float64(n), "snapshot-B/entry")
	})
}

// wholeEntriesOnly hides the store's IndexScanner: a start scans whole
// entries.
type wholeEntriesOnly struct{ blocklist.Store }

// buildRedisBlocklist imports n distinct random mobile numbers into st.
func buildRedisBlocklist(b *testing.B, st *redisstore.BlocklistStore, n int) {
	b.Helper()
	t0 := time.Now()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	per := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min(n, (w+1)*per)
		wg.Go(func() {
			batch := make([]blocklist.Entry, 0, blocklist.ImportBatch)
			for i := lo; i < hi; i += blocklist.ImportBatch {
				batch = batch[:0]
				for j := i; j < min(hi, i+blocklist.ImportBatch); j++ {
					batch = append(batch, blocklist.Entry{
						Pattern: benchNumber(j), Kind: blocklist.KindExact, Category: blocklist.CategoryScam,
						Reason: "refund scam script", Source: blocklist.SourceImport, Confidence: 70,
						CreateBy: "importer", CreateTime: now, UpdateTime: now,
					})
				}
				if _, _, err := st.ImportEntries(context.Background(), batch, now, audit.Event{Time: now, Actor: "bench", Action: "entry.import"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d entries in %v", n, time.Since(t0).Round(time.Millisecond))
}

// benchNumber is the i-th of distinct scattered Chinese mobile numbers
// (+8613...): i times an odd number modulo 2^32 is a bijection.
func benchNumber(i int) string {
	k := uint64(86_130_000_000_00) + uint64(i)*0x9E3779B1%(1<<32)
	return "+" + strconv.FormatUint(k, 10)
}

// redisUsedMemory is the server's used_memory in bytes.
func redisUsedMemory(b *testing.B, rdb redis.UniversalClient) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no used_memory in INFO memory")
	return 0
}
