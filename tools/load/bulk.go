package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// bulk imports h.o.rows generated rows over the CLI into a fresh server
// and exports them, then over REST into another fresh server.
func (h *harness) bulk(ctx context.Context, backend, redisAddr string) (bulkResult, error) {
	r := bulkResult{rows: h.o.rows}
	csvFile, err := h.generate(ctx, h.o.rows, 1, "csv")
	if err != nil {
		return r, err
	}
	ndjsonFile, err := h.generate(ctx, h.o.rows, 2, "ndjson")
	if err != nil {
		return r, err
	}

	h.logf("%s: CLI import of %d rows, then export", backend, h.o.rows)
	s, err := h.startServer(ctx, backend, redisAddr, "cvcli")
	if err != nil {
		return r, err
	}
	if r.cliTime, err = s.cliImport(ctx, csvFile); err != nil {
		return r, err
	}
	r.cliRowsPerSec = float64(h.o.rows) / r.cliTime.Seconds()
	if r.cliImported, err = s.entryCount(ctx); err != nil {
		return r, err
	}
	if r.exportTime, r.exported, err = s.cliExport(ctx); err != nil {
		return r, err
	}
	r.exportRowsPerSec = float64(r.exported) / r.exportTime.Seconds()
	if err := s.p.stop(); err != nil {
		return r, err
	}

	h.logf("%s: REST import of %d rows", backend, h.o.rows)
	s, err = h.startServer(ctx, backend, redisAddr, "cvrest")
	if err != nil {
		return r, err
	}
	var res importAnswer
	if r.restTime, res, err = s.restImport(ctx, ndjsonFile); err != nil {
		return r, err
	}
	r.restRowsPerSec = float64(h.o.rows) / r.restTime.Seconds()
	r.restSummary = fmt.Sprintf("%d imported, %d updated, %d rejected", res.Imported, res.Updated, res.Rejected)
	return r, s.p.stop()
}

// generate writes n rows of scripts/genblocklist (numbers, prefixes, and a
// few bad rows of every kind) once per size, seed and format.
func (h *harness) generate(ctx context.Context, n int, seed uint64, format string) (string, error) {
	path := filepath.Join(h.tmp, fmt.Sprintf("blocklist-%d-%d.%s", n, seed, format))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// Prefixes: 1 in 10,000 rows (genblocklist's maximum is 10,000).
	prefixes := min(max(n/10_000, 1), 10_000)
	cmd := exec.CommandContext(ctx, h.gen, "-n", strconv.Itoa(n), "-seed", strconv.FormatUint(seed, 10),
		"-format", format, "-prefixes", strconv.Itoa(prefixes), "-bad", strconv.Itoa(max(n/10_000, 7)))
	w := bufio.NewWriterSize(f, 1<<20)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("genblocklist: %w\n%s", err, stderr.Bytes())
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return path, f.Close()
}

// cliImport runs callverify blocklist import FILE and returns its wall time.
func (s *server) cliImport(ctx context.Context, file string) (time.Duration, error) {
	tok, err := s.token(ctx, analyst)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := s.h.runCLI(ctx, s.grpcAddr, "blocklist", "import", file, "--no-progress", "--token", tok); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// cliExport runs callverify blocklist export as NDJSON (one entry a line)
// and returns its wall time and the entries it wrote.
func (s *server) cliExport(ctx context.Context) (time.Duration, int64, error) {
	tok, err := s.token(ctx, analyst)
	if err != nil {
		return 0, 0, err
	}
	out := filepath.Join(filepath.Dir(s.dataDir), "export.ndjson")
	start := time.Now()
	if _, err := s.h.runCLI(ctx, s.grpcAddr, "blocklist", "export", "--format", "ndjson", "-o", out, "--no-progress", "--token", tok); err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	n, err := countLines(out)
	os.Remove(out)
	return took, n, err
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		for _, b := range buf[:k] {
			if b == '\n' {
				n++
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// restImport posts file to the REST import route and returns the time
// until the whole answer was read.
// importAnswer is the import route's answer (protojson writes int64 as a
// string).
type importAnswer struct {
	Imported int64 `json:"imported,string"`
	Updated  int64 `json:"updated,string"`
	Rejected int64 `json:"rejected,string"`
}

func (s *server) restImport(ctx context.Context, file string) (time.Duration, importAnswer, error) {
	tok, err := s.token(ctx, analyst)
	if err != nil {
		return 0, importAnswer{}, err
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, importAnswer{}, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.httpAddr+"/v1/blocklist:import", bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, importAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, importAnswer{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, importAnswer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, importAnswer{}, fmt.Errorf("REST import: %s: %.500s", resp.Status, body)
	}
	var res importAnswer
	if err := json.Unmarshal(body, &res); err != nil {
		return 0, importAnswer{}, fmt.Errorf("REST import answer: %w: %.500s", err, body)
	}
	return took, res, nil
}
