package boltstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// BenchmarkBlocklistRestart measures the embedded store at scale: it
// builds a store of random Chinese mobile numbers, imported in batches of
// blocklist.ImportBatch rows in random order as a bought list arrives, once
// per run (without fsync; the layout is the same), then restarts a
// callverifyd's blocklist on it in a fresh process b.N times. Reported:
// B/entry (the store file over its entries), ready-ms (open the store and
// load the matching index) and rss-MB (VmRSS of that process once ready).
//
//	CALLVERIFY_BENCH_ENTRIES=10000000 go test -run '^$' -bench BlocklistRestart -benchtime 3x -timeout 60m ./internal/store/boltstore/
//
// CALLVERIFY_BENCH_ENTRIES sets the size (100,000 when unset, so that
// make bench stays short); CALLVERIFY_BENCH_DIR keeps the store there and
// reuses it on the next run.
func BenchmarkBlocklistRestart(b *testing.B) {
	n := 100_000
	if v := os.Getenv("CALLVERIFY_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("CALLVERIFY_BENCH_ENTRIES=%q: want a positive count", v)
		}
	}
	dir := os.Getenv("CALLVERIFY_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, boltstore.FileName)); err != nil {
		buildScaleStore(b, dir, n)
	}
	fi, err := os.Stat(filepath.Join(dir, boltstore.FileName))
	if err != nil {
		b.Fatal(err)
	}
	// A first restart with the snapshot writes it (at Close).
	os.Remove(filepath.Join(dir, boltstore.IndexSnapshotFile))
	restart(b, dir, n, "scan")
	restart(b, dir, n, "snapshot")
	var scanMs, scanKB, snapMs, snapKB float64
	b.ResetTimer()
	for range b.N {
		scanMs, scanKB = restart(b, dir, n, "scan")
		snapMs, snapKB = restart(b, dir, n, "snapshot")
	}
	b.ReportMetric(float64(fi.Size())/float64(n), "B/entry")
	b.ReportMetric(scanMs, "ready-scan-ms")
	b.ReportMetric(scanKB/1024, "rss-scan-MB")
	b.ReportMetric(snapMs, "ready-snap-ms")
	b.ReportMetric(snapKB/1024, "rss-snap-MB")
}

// restart runs a restart child on the store in dir, from a scan or from
// the index snapshot, and returns its ready time and VmRSS.
func restart(b *testing.B, dir string, n int, mode string) (readyMs, rssKB float64) {
	b.Helper()
	hadSnapshot := fromSnapshot(dir)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), restartChildEnv+"="+dir, restartModeEnv+"="+mode)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("restart: %v\n%s", err, out)
	}
	var entries, reloads int
	if _, err := fmt.Sscanf(lastLine(out), "ready-ms %f rss-kb %f entries %d reloads %d", &readyMs, &rssKB, &entries, &reloads); err != nil {
		b.Fatalf("restart printed %q: %v", out, err)
	}
	if entries != n {
		b.Fatalf("the restarted index holds %d entries, want %d", entries, n)
	}
	if mode == "snapshot" && reloads != 0 && hadSnapshot {
		b.Fatalf("a restart with a snapshot scanned the store")
	}
	return readyMs, rssKB
}

// fromSnapshot reports whether dir has an index snapshot for a restart.
func fromSnapshot(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, boltstore.IndexSnapshotFile))
	return err == nil
}

func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func buildScaleStore(b *testing.B, dir string, n int) {
	b.Helper()
	start := time.Now()
	db, err := boltstore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	db.NoSync = true
	s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 16))
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	batch := make([]blocklist.Entry, blocklist.ImportBatch)
	var buf [20]byte
	for done := 0; done < n; {
		batch = batch[:min(len(batch), n-done)]
		for j := range batch {
			k := uint64(86_000_000_000_00) + uint64(13+rng.IntN(7))*1_000_000_000 + uint64(rng.IntN(1_000_000_000))
			batch[j] = blocklist.Entry{
				Pattern: string(strconv.AppendUint(append(buf[:0], '+'), k, 10)), Kind: blocklist.KindExact,
				Category: blocklist.CategoryScam, Reason: "refund scam script", Source: blocklist.SourceImport,
				Confidence: 70, CreateBy: "importer", CreateTime: now, UpdateTime: now,
			}
		}
		outs, _, err := s.ImportEntries(context.Background(), batch, now, audit.Event{Time: now, Actor: "bench", Action: "entry.import"})
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			if o.Result == blocklist.ImportCreated {
				done++
			}
		}
	}
	if err := db.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d entries in %v", n, time.Since(start).Round(time.Millisecond))
}

// restartChildEnv names the store a child process restarts on;
// restartModeEnv says whether it uses the index snapshot ("snapshot").
const (
	restartChildEnv = "CALLVERIFY_BENCH_RESTART_CHILD"
	restartModeEnv  = "CALLVERIFY_BENCH_RESTART_MODE"
)

// TestMain runs the restart child when BenchmarkBlocklistRestart starts
// one, and the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv(restartChildEnv); dir != "" {
		if err := restartChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// restartChild is what a restarted callverifyd does before it is ready:
// open the store and load the blocklist's matching index.
func restartChild(dir string) error {
	start := time.Now()
	db, err := boltstore.Open(dir)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
	if err != nil {
		return err
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		return err
	}
	p, err := phone.NewParser("CN")
	if err != nil {
		return err
	}
	cfg := blocklist.Config{Store: st, Audit: audit.NewRecorder(as, time.Now), Phone: p}
	if os.Getenv(restartModeEnv) == "snapshot" {
		cfg.Follow.Snapshot = filepath.Join(dir, boltstore.IndexSnapshotFile)
	}
	svc, err := blocklist.NewService(cfg)
	if err != nil {
		return err
	}
	ready := time.Since(start)
	rss, err := vmRSSKB()
	if err != nil {
		return err
	}
	st2 := svc.IndexStats()
	if err := svc.Close(); err != nil {
		return err
	}
	fmt.Printf("ready-ms %.1f rss-kb %d entries %d reloads %d\n", float64(ready.Microseconds())/1000, rss, st2.Entries, st2.Reloads)
	return nil
}

func vmRSSKB() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}
