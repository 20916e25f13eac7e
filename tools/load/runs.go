package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bojand/ghz/load"
	"github.com/bojand/ghz/runner"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// run is what one load run (one A or one B) measured.
type run struct {
	requests int64         // answered, successfully or not
	ok       int64         // successful answers
	elapsed  time.Duration // from the first request to the last answer
	p50, p99 time.Duration
	errors   map[string]int
	cpu      time.Duration // the server's utime+stime over the run (B only)
	// clientCPU is the harness's own, that is the load tool's (ghz or
	// vegeta run in this process), over the run (B only).
	clientCPU time.Duration
	storeCPU  time.Duration // its redis-server's, when it has one (B only)
	rss       int64         // the server's VmRSS after the run (B only)
}

// rps is successful answers per second.
func (r run) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// grpcTarget is one RPC to drive with ghz.
type grpcTarget struct {
	method string            // package.Service/Method
	md     map[string]string // metadata (the bearer token)
	// data is the request as protojson, a ghz template ({{.RequestNumber}}
	// is the request's number); empty is an empty message.
	data string
}

// ghzMaxRate bounds the requests per second of one ghz run: three times
// what ghz sends on this project's 2-core machine (some 30k/s), so that
// only the run's length ends it; a run that reaches it fails, saying so.
// (Variables for the test of a run that reaches it.)
var ghzMaxRate, ghzMinBound = 100_000.0, uint(10_000)

// ghzBound is the request count a run of d cannot reach.
func ghzBound(d time.Duration) uint {
	return uint(d.Seconds()*ghzMaxRate) + ghzMinBound
}

// ghzRun drives t at addr with c concurrent workers on one connection for
// d.
func (h *harness) ghzRun(addr string, t grpcTarget, c int, d time.Duration, w *cpuWindow) (run, error) {
	data := t.data
	if data == "" {
		data = "{}"
	}
	tick := &timedTicker{c: make(chan load.TickValue), workers: uint(c), d: d, window: w, finished: make(chan struct{})}
	opts := []runner.Option{
		runner.WithInsecure(true),
		runner.WithConcurrency(uint(c)),
		runner.WithConnections(1),
		// The ticker stops the run d after the workers start; the request
		// count is only a bound, far above what a run can send. ghz
		// allocates (and clears) room for up to a million results before
		// every run, 64 B each: at MaxInt32 that was a tenth of the
		// harness's CPU; at this bound it is some 7 MB a second of run.
		runner.WithTotalRequests(ghzBound(d)),
		runner.WithWorkerTicker(tick),
		// ghz 0.93 with "wait" can send an answer that arrives after the
		// stop on its closed results channel (a panic); "ignore" drops them.
		runner.WithDurationStopAction("ignore"),
		runner.WithTimeout(20 * time.Second),
		runner.WithDataFromJSON(data),
	}
	if len(t.md) > 0 {
		opts = append(opts, runner.WithMetadata(t.md))
	}
	cfg, err := runner.NewConfig(t.method, addr, opts...)
	if err != nil {
		return run{}, fmt.Errorf("ghz %s at %s: %w", t.method, addr, err)
	}
	reqr, err := runner.NewRequester(cfg)
	if err != nil {
		return run{}, fmt.Errorf("ghz %s at %s: %w", t.method, addr, err)
	}
	tick.stop = func() { reqr.Stop(runner.ReasonTimeout) }
	rep, err := reqr.Run()
	if err != nil {
		return run{}, fmt.Errorf("ghz %s at %s: %w", t.method, addr, err)
	}
	r := run{requests: int64(rep.Count), ok: int64(rep.StatusCodeDist["OK"]), elapsed: rep.Total, errors: map[string]int{}}
	for code, n := range rep.StatusCodeDist {
		if code != "OK" {
			r.errors[code] += n
		}
	}
	if rep.Count >= uint64(ghzBound(d)) {
		// Most likely answers that fail at once (a server gone): say them.
		return run{}, fmt.Errorf("ghz %s at %s: the run ended at its bound of %d requests before its %v (%d OK, failed: %v): "+
			"if they were answered, raise ghzMaxRate", t.method, addr, rep.Count, d, r.ok, r.errors)
	}
	for _, l := range rep.LatencyDistribution {
		switch l.Percentage {
		case 50:
			r.p50 = l.Latency
		case 99:
			r.p99 = l.Latency
		}
	}
	return r, nil
}

// timedTicker starts all workers at once, as ghz's constant ticker does,
// and stops the run d later. ghz's own duration starts its clock before it
// connects, so a short run could end before its first request, and ghz
// 0.93 then panics sending the first tick on a closed channel; this clock
// starts once the connection is up (ghz runs the ticker after connecting).
type timedTicker struct {
	c       chan load.TickValue
	workers uint
	d       time.Duration
	stop    func()
	window  *cpuWindow // the CPU time over the requests (nil: none)
	// finished is closed when ghz finishes the ticker: a run that ended
	// at its request bound before d is not stopped again.
	finished chan struct{}
	once     sync.Once
}

func (t *timedTicker) Ticker() <-chan load.TickValue { return t.c }

func (t *timedTicker) Run() {
	t.window.open()
	t.c <- load.TickValue{Delta: int(t.workers), Done: true}
	select {
	case <-time.After(t.d):
	case <-t.finished:
		return
	}
	t.window.close()
	// ghz 0.93 may finish the ticker only after the requester closed its
	// stop channel, so a run that ends at its bound just as d passes can
	// still make Stop send on a closed channel: that panic means the run
	// had ended already, which ghzRun reports.
	defer func() { _ = recover() }()
	t.stop()
}

func (t *timedTicker) Finish() {
	t.once.Do(func() {
		close(t.finished)
		close(t.c)
	})
}

// httpTarget is one REST request to drive with vegeta.
type httpTarget struct {
	method, url string
	header      http.Header
	body        []byte
}

// vegetaRun drives t with c workers, as fast as they go, for d.
func (h *harness) vegetaRun(t httpTarget, c int, d time.Duration, w *cpuWindow) (run, error) {
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: t.method, URL: t.url, Header: t.header, Body: t.body})
	// A transport of this run's own, closed after it: the attacker's would
	// keep its c connections open for good, and callverifyd accepts 256
	// from one address (--max-conns-per-addr), so the sixth run would fail.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	a := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: transport}),
		vegeta.Workers(uint64(c)), vegeta.MaxWorkers(uint64(c)),
		vegeta.Connections(c), vegeta.MaxConnections(c), vegeta.KeepAlive(true), vegeta.Timeout(20*time.Second))
	var m vegeta.Metrics
	// Rate 0 with MaxWorkers: each worker sends its next request as soon as
	// the last is answered (a closed loop, like ghz). The CPU window is
	// the attack's, as ghz's is its ticker's: not the summary after it.
	w.open()
	for res := range a.Attack(tr, vegeta.Rate{}, d, "load") {
		m.Add(res)
	}
	w.close()
	m.Close()
	r := run{requests: int64(m.Requests), elapsed: m.Duration + m.Wait, p50: m.Latencies.P50, p99: m.Latencies.P99, errors: map[string]int{}}
	for code, n := range m.StatusCodes {
		if code == "200" {
			r.ok = int64(n)
		} else {
			r.errors["HTTP "+code] += n
		}
	}
	return r, nil
}

// measured runs f against the server whose process is s, with its CPU time
// and RSS, and the client's CPU time, over the window f's requests ran in:
// from f's start to its end, unless f's runner narrows it (ghz connects and
// reads the server's descriptors by reflection before its requests, and
// builds its report after them).
func measured(s *server, f func(*cpuWindow) (run, error)) (run, error) {
	w := &cpuWindow{s: s}
	w.open()
	r, err := f(w)
	if err != nil {
		return run{}, err
	}
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return run{}, w.err
	}
	r.cpu = w.end.server - w.start.server
	r.storeCPU = w.end.store - w.start.store
	r.clientCPU = w.end.client - w.start.client
	if r.rss, err = vmRSS(s.p.pid()); err != nil {
		return run{}, err
	}
	return r, nil
}

// cpuWindow is the CPU time of a server, its redis-server (if any) and the
// harness itself (the load tool runs in it) at the start and the end of a
// run's requests. Its methods do nothing on a nil window.
type cpuWindow struct {
	s *server

	mu         sync.Mutex
	start, end cpuSnapshot
	closed     bool
	err        error
}

type cpuSnapshot struct{ server, store, client time.Duration }

func (w *cpuWindow) snapshot() (cpuSnapshot, error) {
	var c cpuSnapshot
	var errs [3]error
	c.client, errs[0] = cpuTime(os.Getpid())
	c.server, errs[1] = cpuTime(w.s.p.pid())
	if w.s.store != nil {
		c.store, errs[2] = cpuTime(w.s.store.pid())
	}
	return c, errors.Join(errs[:]...)
}

// open starts the window (again: a runner that knows when its requests
// start moves the start there).
func (w *cpuWindow) open() {
	if w == nil {
		return
	}
	c, err := w.snapshot()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start, w.err, w.closed = c, err, false
}

// close ends the window; only its first call after open counts.
func (w *cpuWindow) close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	c, err := w.snapshot()
	w.end, w.err, w.closed = c, errors.Join(w.err, err), true
}

// rpcRow is one hot RPC at one concurrency: reps pairs of runs, baseline
// (A) then ours (B).
type rpcRow struct {
	name string
	c    int
	a, b []run
}

func (r rpcRow) ratios() []float64 {
	out := make([]float64, len(r.a))
	for i := range r.a {
		if base := r.a[i].rps(); base > 0 {
			out[i] = r.b[i].rps() / base
		}
	}
	return out
}

// ratiosText is ratios as the tables print them: "0.612 0.598 0.640".
func ratiosText(ratios []float64) string {
	rs := make([]string, len(ratios))
	for i, q := range ratios {
		rs[i] = fmt.Sprintf("%.3f", q)
	}
	return strings.Join(rs, " ")
}

// ratio is the median of the pairs' throughput ratios.
func (r rpcRow) ratio() float64 { return median(r.ratios()) }

// bMedian is the median over ours of f.
func (r rpcRow) bMedian(f func(run) float64) float64 {
	v := make([]float64, len(r.b))
	for i, x := range r.b {
		v[i] = f(x)
	}
	return median(v)
}

func (r rpcRow) rps() float64     { return r.bMedian(run.rps) }
func (r rpcRow) baseRPS() float64 { return median(mapRuns(r.a, run.rps)) }
func (r rpcRow) p50() time.Duration {
	return time.Duration(r.bMedian(func(x run) float64 { return float64(x.p50) }))
}
func (r rpcRow) p99() time.Duration {
	return time.Duration(r.bMedian(func(x run) float64 { return float64(x.p99) }))
}

// cpuPerReq is the server's CPU time over every B run divided by the
// requests they made.
func (r rpcRow) cpuPerReq() time.Duration {
	return r.perReq(func(x run) time.Duration { return x.cpu })
}

// clientCPUPerReq is cpuPerReq for the load tool.
func (r rpcRow) clientCPUPerReq() time.Duration {
	return r.perReq(func(x run) time.Duration { return x.clientCPU })
}

// storeCPUPerReq is cpuPerReq for the server's redis-server (0 on the
// embedded store).
func (r rpcRow) storeCPUPerReq() time.Duration {
	return r.perReq(func(x run) time.Duration { return x.storeCPU })
}

// perReq is the sum of f over every B run divided by the requests they
// made.
func (r rpcRow) perReq(f func(run) time.Duration) time.Duration { return perReq(r.b, f) }

// perReq is the sum of f over runs divided by the requests they made.
func perReq(runs []run, f func(run) time.Duration) time.Duration {
	var cpu time.Duration
	var n int64
	for _, x := range runs {
		cpu += f(x)
		n += x.requests
	}
	if n == 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

func (r rpcRow) rss() int64 { return r.b[len(r.b)-1].rss }

// errorsText sums the failed answers of the B runs ("" when none).
func (r rpcRow) errorsText() string {
	sum := map[string]int{}
	for _, x := range r.b {
		for k, v := range x.errors {
			sum[k] += v
		}
	}
	var parts []string
	for k, v := range sum {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func mapRuns(rs []run, f func(run) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
