package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/testenv"
)

// BenchmarkCLIImport runs `callverify blocklist import` of a 1M-row CSV
// file (100k with -short; written once per run) against a real server, on
// the embedded store and on Redis, each iteration into a fresh server.
// rows/s is the figure of issue 16 (target 200k).
//
//	go test -run '^$' -bench CLIImport -benchtime 1x ./cmd/callverify/
func BenchmarkCLIImport(b *testing.B) {
	file, n := benchRows(b)
	var rdb redis.UniversalClient // the Redis of the redis case, for its CPU time
	for _, be := range benchBackends(&rdb) {
		b.Run(be.name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu, redisCPU time.Duration
			for range b.N {
				b.StopTimer()
				opts := append([]testenv.Option{func(c *app.Config) { c.LogLevel = "error" }}, be.opts(b)...)
				env := testenv.New(b, opts...)
				root := newRootCmd()
				var out bytes.Buffer
				root.SetOut(&out)
				root.SetErr(&out)
				root.SetArgs([]string{"--server", env.GRPCAddr, "--token", env.Analyst(), "blocklist", "import", "--no-progress", file})
				cpu0, rcpu0 := redistest.ProcessCPUTime(b), redistest.CPUTime(b, rdb)
				b.StartTimer()
				err := root.Execute()
				b.StopTimer()
				cpu += redistest.ProcessCPUTime(b) - cpu0
				redisCPU += redistest.CPUTime(b, rdb) - rcpu0
				if want := fmt.Sprintf("%d imported, 0 updated, 0 rejected", n); err != nil || !strings.Contains(out.String(), want) {
					b.Fatalf("import: %v, want %q in\n%s", err, want, out.String())
				}
				env.Stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
			// The machine is shared: CPU time per row (this process, CLI
			// and server; and Redis's) does not depend on the others' load.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n)/1000, "cpu-us/row")
			if be.name == "redis" {
				b.ReportMetric(float64(redisCPU.Nanoseconds())/float64(b.N*n)/1000, "redis-cpu-us/row")
			}
		})
	}
}

// benchRows writes a CSV file of n distinct scattered mobile numbers: 1M,
// or 100k with -short.
func benchRows(b *testing.B) (file string, n int) {
	b.Helper()
	n = 1_000_000
	if testing.Short() {
		n = 100_000
	}
	file = filepath.Join(b.TempDir(), "rows.csv")
	var buf bytes.Buffer
	buf.WriteString("pattern,category,reason,confidence,expire_time\n")
	for i := range n {
		k := uint64(i)*2654435761%1_000_000_000 + 13_000_000_000
		fmt.Fprintf(&buf, "+86%d,scam,refund scam script,70,\n", k)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return file, n
}

// BenchmarkCLIExport runs `callverify blocklist export` of 1M entries
// (100k with -short; imported once, before the timer) against a real
// server, on the embedded store and on Redis, as NDJSON and as CSV into a
// file. rows/s is the figure of issue 16 (export stays at 150k or more);
// cpu-us/row is this process's, CLI and server together, and Redis's.
//
//	go test -run '^$' -bench CLIExport -benchtime 3x ./cmd/callverify/
func BenchmarkCLIExport(b *testing.B) {
	rows, n := benchRows(b)
	var rdb redis.UniversalClient // the Redis of the redis case, for its CPU time
	for _, be := range benchBackends(&rdb) {
		b.Run(be.name, func(b *testing.B) {
			opts := append([]testenv.Option{func(c *app.Config) { c.LogLevel = "error" }}, be.opts(b)...)
			env := testenv.New(b, opts...)
			run := func(args ...string) {
				b.Helper()
				root := newRootCmd()
				var out bytes.Buffer
				root.SetOut(&out)
				root.SetErr(&out)
				root.SetArgs(append([]string{"--server", env.GRPCAddr, "--token", env.Analyst()}, args...))
				if err := root.Execute(); err != nil {
					b.Fatalf("%s: %v\n%s", args, err, out.String())
				}
			}
			run("blocklist", "import", "--no-progress", rows)
			for _, format := range []string{"ndjson", "csv"} {
				b.Run(format, func(b *testing.B) {
					file := filepath.Join(b.TempDir(), "export."+format)
					b.ReportAllocs()
					cpu0, rcpu0 := redistest.ProcessCPUTime(b), redistest.CPUTime(b, rdb)
					for range b.N {
						run("blocklist", "export", "--no-progress", "--format", format, "-o", file)
					}
					b.StopTimer()
					cpu, redisCPU := redistest.ProcessCPUTime(b)-cpu0, redistest.CPUTime(b, rdb)-rcpu0
					got, err := os.ReadFile(file)
					if err != nil {
						b.Fatal(err)
					}
					if lines, want := bytes.Count(got, []byte{'\n'}), n+map[string]int{"csv": 1}[format]; lines != want {
						b.Fatalf("export wrote %d lines, want %d", lines, want)
					}
					b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n)/1000, "cpu-us/row")
					if be.name == "redis" {
						b.ReportMetric(float64(redisCPU.Nanoseconds())/float64(b.N*n)/1000, "redis-cpu-us/row")
					}
				})
			}
		})
	}
}

// benchBackend is a store a CLI benchmark runs its server on.
type benchBackend struct {
	name string
	opts func(b *testing.B) []testenv.Option
}

// benchBackends are the embedded store and a Redis of the benchmark's own,
// whose client the redis case puts in *rdb (for its CPU time).
func benchBackends(rdb *redis.UniversalClient) []benchBackend {
	return []benchBackend{
		{"embedded", func(*testing.B) []testenv.Option { return nil }},
		{"redis", func(b *testing.B) []testenv.Option {
			srv := redistest.NewServer(b, redistest.Options{})
			*rdb = srv.Client(b)
			return []testenv.Option{testenv.OnRedis(b, srv.Addr())}
		}},
	}
}
