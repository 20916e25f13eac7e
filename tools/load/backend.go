package main

import (
	"context"
	"fmt"
	"time"
)

// The numbers the runs use: an official outbound line, the customer it
// calls, a number on the blocklist, and the range StampCall's callees come
// from (away from the customer's, so that the customer's calls stay few).
const (
	officialLine   = "+864008008888"
	customerNumber = "+8613800138000"
	fraudNumber    = "+8617100001111"
	// A ghz template: request i calls +86136 and i in 8 digits.
	stampCallees  = `+86136{{printf "%08d" .RequestNumber}}`
	healthMethod  = "grpc.health.v1.Health/Check"
	verifyService = "callverify.v1.VerifyService/"
	callService   = "callverify.v1.CallService/"
)

// backendResult is everything measured on one backend.
type backendResult struct {
	name string
	bulk bulkResult
	st   storeResult
	rows []rpcRow
	rest rpcRow // CheckCaller (VERIFIED) over REST, against the empty HTTP handler
	// restGRPC is the same REST runs (b) against CheckCaller (VERIFIED)
	// over gRPC (a), run in turn with them: the REST / gRPC figure.
	restGRPC rpcRow
}

type bulkResult struct {
	rows              int
	cliRowsPerSec     float64
	cliImported       int64 // entries in the store after the CLI import
	restRowsPerSec    float64
	restSummary       string // the REST import's answer
	exportRowsPerSec  float64
	exported          int64
	cliTime, restTime time.Duration
	exportTime        time.Duration
}

type storeResult struct {
	entries      int64
	diskBytes    int64
	readyAfter   time.Duration
	rssAfter     int64
	importPerSec float64
}

func (h *harness) runBackend(ctx context.Context, backend string) (backendResult, error) {
	br := backendResult{name: backend}
	var redisAddr string
	var redisProc *proc
	if backend == "redis" {
		var err error
		if redisAddr, redisProc, err = h.redisServer(ctx); err != nil {
			return br, err
		}
	}
	var err error
	if br.bulk, err = h.bulk(ctx, backend, redisAddr); err != nil {
		return br, fmt.Errorf("bulk import and export: %w", err)
	}

	// The store rows, then the hot RPCs on the same server: it holds the
	// blocklist the CheckCaller rows are about.
	h.logf("%s: importing a %d-entry blocklist, then restarting", backend, h.o.blocklist)
	s, err := h.startServer(ctx, backend, redisAddr, "cvstore")
	if err != nil {
		return br, err
	}
	defer s.p.stop()
	s.store = redisProc
	file, err := h.generate(ctx, h.o.blocklist, 3, "csv")
	if err != nil {
		return br, err
	}
	took, err := s.cliImport(ctx, file)
	if err != nil {
		return br, err
	}
	br.st.importPerSec = float64(h.o.blocklist) / took.Seconds()
	if br.st.entries, err = s.entryCount(ctx); err != nil {
		return br, err
	}
	if br.st.readyAfter, err = s.restart(ctx); err != nil {
		return br, fmt.Errorf("restart: %w", err)
	}
	if br.st.rssAfter, err = vmRSS(s.p.pid()); err != nil {
		return br, err
	}
	if backend == "bolt" {
		if br.st.diskBytes, err = diskUsage(s.dataDir); err != nil {
			return br, err
		}
	}

	targets, err := s.seed(ctx)
	if err != nil {
		return br, fmt.Errorf("seed: %w", err)
	}
	for _, t := range targets {
		for _, conc := range h.o.concs {
			row, err := h.abRuns(ctx, s, t, conc)
			if err != nil {
				return br, fmt.Errorf("%s c=%d: %w", t.name, conc, err)
			}
			br.rows = append(br.rows, row)
		}
	}
	rest, err := s.restTarget(ctx)
	if err != nil {
		return br, err
	}
	var verified namedTarget
	for _, t := range targets {
		if t.name == "CheckCaller VERIFIED" {
			verified = t
		}
	}
	if verified.name == "" {
		return br, fmt.Errorf("seed: no CheckCaller VERIFIED target to compare REST with")
	}
	conc := h.o.concs[len(h.o.concs)-1]
	if br.rest, br.restGRPC, err = h.abREST(ctx, s, rest, verified, conc); err != nil {
		return br, fmt.Errorf("REST CheckCaller: %w", err)
	}
	return br, s.p.stop()
}

// namedTarget is a hot RPC with the name the tables give it.
type namedTarget struct {
	name string
	t    grpcTarget
}

// abRuns drives the baseline (A) and t (B) in turn, reps times each, after
// a short warm-up of both.
func (h *harness) abRuns(ctx context.Context, s *server, t namedTarget, c int) (rpcRow, error) {
	row := rpcRow{name: t.name, c: c}
	base := grpcTarget{method: healthMethod}
	// A short warm-up of both, unmeasured: the first requests of a target
	// pay for connections, caches and the heap growing.
	warm := min(h.o.duration/2, 500*time.Millisecond)
	if _, err := h.ghzRun(h.baseGRPC, base, c, warm, nil); err != nil {
		return row, err
	}
	if _, err := h.ghzRun(s.grpcAddr, t.t, c, warm, nil); err != nil {
		return row, err
	}
	for rep := range h.o.reps {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		a, err := h.answered(h.o.duration, func(d time.Duration) (run, error) { return h.ghzRun(h.baseGRPC, base, c, d, nil) })
		if err != nil {
			return row, err
		}
		b, err := h.answered(h.o.duration, func(d time.Duration) (run, error) {
			return measured(s, func(w *cpuWindow) (run, error) { return h.ghzRun(s.grpcAddr, t.t, c, d, w) })
		})
		if err != nil {
			return row, err
		}
		if b.ok == 0 || a.ok == 0 {
			return row, fmt.Errorf("no successful answer: %d requests (%v), baseline %d", b.requests, b.errors, a.requests)
		}
		h.vlogf("%s %s c=%d rep %d: baseline %.0f/s, ours %.0f/s (%.3fx), p99 %v", s.backend, t.name, c, rep+1, a.rps(), b.rps(), b.rps()/a.rps(), b.p99)
		row.a, row.b = append(row.a, a), append(row.b, b)
	}
	h.logf("%s %-28s c=%-3d %.3fx  %7.0f/s  p50 %-9v p99 %v", s.backend, t.name, c, row.ratio(), row.rps(), row.p50().Round(time.Microsecond), row.p99().Round(time.Microsecond))
	return row, nil
}

// answered runs f for d, and again for twice as long (up to twice more)
// when nothing came back at all: on a starved machine a short run can end
// before its first answer arrives. Answers that are errors are results and
// are kept. Rates are per second, so a longer run compares with the rest.
func (h *harness) answered(d time.Duration, f func(time.Duration) (run, error)) (run, error) {
	for try := 0; ; try++ {
		r, err := f(d)
		if err != nil || r.requests > 0 || try == 2 {
			return r, err
		}
		h.logf("no answer in %v: run again for %v", d, 2*d)
		d *= 2
	}
}

// abREST is abRuns over REST, against the baseline's empty HTTP handler.
// Each repetition also runs the same check over gRPC (g) right before the
// REST one, so that REST / gRPC is a ratio of runs taken together, like
// every other ratio, not of two medians taken minutes apart: pair has the
// gRPC runs as its a and the REST runs as its b.
func (h *harness) abREST(ctx context.Context, s *server, t httpTarget, g namedTarget, c int) (row, pair rpcRow, err error) {
	row = rpcRow{name: "CheckCaller VERIFIED (REST)", c: c}
	pair = rpcRow{name: "CheckCaller VERIFIED, REST / gRPC", c: c}
	base := httpTarget{method: t.method, url: "http://" + h.baseHTTP + "/v1/verify/caller", header: t.header, body: t.body}
	warm := min(h.o.duration/2, 500*time.Millisecond)
	if _, err := h.vegetaRun(base, c, warm, nil); err != nil {
		return row, pair, err
	}
	if _, err := h.vegetaRun(t, c, warm, nil); err != nil {
		return row, pair, err
	}
	for range h.o.reps {
		if err := ctx.Err(); err != nil {
			return row, pair, err
		}
		a, err := h.answered(h.o.duration, func(d time.Duration) (run, error) { return h.vegetaRun(base, c, d, nil) })
		if err != nil {
			return row, pair, err
		}
		overGRPC, err := h.answered(h.o.duration, func(d time.Duration) (run, error) {
			return measured(s, func(w *cpuWindow) (run, error) { return h.ghzRun(s.grpcAddr, g.t, c, d, w) })
		})
		if err != nil {
			return row, pair, err
		}
		b, err := h.answered(h.o.duration, func(d time.Duration) (run, error) {
			return measured(s, func(w *cpuWindow) (run, error) { return h.vegetaRun(t, c, d, w) })
		})
		if err != nil {
			return row, pair, err
		}
		if b.ok == 0 || overGRPC.ok == 0 {
			return row, pair, fmt.Errorf("no successful answer: %d requests over REST (%v), %d over gRPC (%v)",
				b.requests, b.errors, overGRPC.requests, overGRPC.errors)
		}
		h.vlogf("%s REST / gRPC c=%d: gRPC %.0f/s, REST %.0f/s (%.3fx)", s.backend, c, overGRPC.rps(), b.rps(), b.rps()/overGRPC.rps())
		row.a, row.b = append(row.a, a), append(row.b, b)
		pair.a, pair.b = append(pair.a, overGRPC), append(pair.b, b)
	}
	h.logf("%s %-28s c=%-3d %.3fx  %7.0f/s  p50 %-9v p99 %v", s.backend, row.name, c, row.ratio(), row.rps(), row.p50().Round(time.Microsecond), row.p99().Round(time.Microsecond))
	h.logf("%s %-28s c=%-3d %.3fx (%s)", s.backend, "REST / gRPC", c, pair.ratio(), ratiosText(pair.ratios()))
	return row, pair, nil
}
