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
	if backend == "redis" {
		var err error
		if redisAddr, err = h.redisServer(ctx); err != nil {
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
	conc := h.o.concs[len(h.o.concs)-1]
	if br.rest, err = h.abREST(ctx, s, rest, conc); err != nil {
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
	if _, err := h.ghzRun(h.baseGRPC, base, c, warm); err != nil {
		return row, err
	}
	if _, err := h.ghzRun(s.grpcAddr, t.t, c, warm); err != nil {
		return row, err
	}
	for rep := range h.o.reps {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		a, err := h.ghzRun(h.baseGRPC, base, c, h.o.duration)
		if err != nil {
			return row, err
		}
		b, err := measured(s, func() (run, error) { return h.ghzRun(s.grpcAddr, t.t, c, h.o.duration) })
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

// abREST is abRuns over REST, against the baseline's empty HTTP handler.
func (h *harness) abREST(ctx context.Context, s *server, t httpTarget, c int) (rpcRow, error) {
	row := rpcRow{name: "CheckCaller VERIFIED (REST)", c: c}
	base := httpTarget{method: t.method, url: "http://" + h.baseHTTP + "/v1/verify/caller", header: t.header, body: t.body}
	warm := min(h.o.duration/2, 500*time.Millisecond)
	if _, err := h.vegetaRun(base, c, warm); err != nil {
		return row, err
	}
	if _, err := h.vegetaRun(t, c, warm); err != nil {
		return row, err
	}
	for range h.o.reps {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		a, err := h.vegetaRun(base, c, h.o.duration)
		if err != nil {
			return row, err
		}
		b, err := measured(s, func() (run, error) { return h.vegetaRun(t, c, h.o.duration) })
		if err != nil {
			return row, err
		}
		if b.ok == 0 {
			return row, fmt.Errorf("no successful answer in %d requests: %v", b.requests, b.errors)
		}
		row.a, row.b = append(row.a, a), append(row.b, b)
	}
	h.logf("%s %-28s c=%-3d %.3fx  %7.0f/s  p50 %-9v p99 %v", s.backend, row.name, c, row.ratio(), row.rps(), row.p50().Round(time.Microsecond), row.p99().Round(time.Microsecond))
	return row, nil
}

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

// rest sends one JSON request to s's REST API with a token of who (none
// for anonymous) and decodes the answer into out.
func (s *server) rest(ctx context.Context, method, path string, who principal, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.httpAddr+path, rd)
	if err != nil {
		return err
	}
	if who != anonymous {
		tok, err := s.token(ctx, who)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w: %.300s", method, path, err, b)
	}
	return nil
}

// principal is whom a request is made as: each role has one principal.
type principal int

const (
	anonymous principal = iota
	admin
	analyst
	dialer
	customer
)

func (p principal) role() string {
	return [...]string{"", "admin", "analyst", "dialer", "customer"}[p]
}

func (p principal) sub() string { return "load-" + p.role() }

// phone is the customer's number (phone_number claim); others have none.
func (p principal) phone() string {
	if p == customer {
		return customerNumber
	}
	return ""
}

// md is the gRPC metadata that carries who's token.
func (s *server) md(ctx context.Context, who principal) (map[string]string, error) {
	tok, err := s.token(ctx, who)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// entryCount is the blocklist's size as ListEntries reports it.
func (s *server) entryCount(ctx context.Context) (int64, error) {
	var res struct {
		TotalSize int64 `json:"totalSize"`
	}
	err := s.rest(ctx, http.MethodGet, "/v1/blocklist/entries?pageSize=1", analyst, nil, &res)
	return res.TotalSize, err
}

// seed registers the official line, blocks the fraud number, stamps a call
// to the customer, checks that each hot RPC answers what its row claims,
// and returns the hot RPCs' targets.
func (s *server) seed(ctx context.Context) ([]namedTarget, error) {
	if err := s.rest(ctx, http.MethodPost, "/v1/official-numbers", admin, map[string]any{
		"number": officialLine, "displayName": "Customer service", "direction": "DIRECTION_OUTBOUND",
	}, nil); err != nil {
		return nil, err
	}
	if err := s.rest(ctx, http.MethodPost, "/v1/blocklist/entries", analyst, map[string]any{
		"pattern": fraudNumber, "category": "CATEGORY_IMPERSONATION", "reason": "load harness", "confidence": 90,
	}, nil); err != nil {
		return nil, err
	}
	stamp := `{"callerNumber":"` + officialLine + `","calleeNumber":"%s","reason":"CALL_REASON_AFTER_SALES",` +
		`"reasonText":"退款处理回访","orderRef":"ORD-1001","agentId":"a-7","agentName":"Wang","ttlSeconds":3600}`
	var call struct {
		Call struct {
			CallID string `json:"callId"`
		} `json:"call"`
		Token string `json:"token"`
	}
	if err := s.rest(ctx, http.MethodPost, "/v1/calls", dialer, json.RawMessage(fmt.Sprintf(stamp, customerNumber)), &call); err != nil {
		return nil, err
	}
	checkVerified := `{"callerNumber":"` + officialLine + `","language":"en"}`
	checkFraud := `{"callerNumber":"` + fraudNumber + `","language":"en"}`
	verifyToken := `{"token":"` + call.Token + `","callerNumber":"` + officialLine + `","calleeNumber":"` + customerNumber + `"}`
	getCode := `{"callId":"` + call.Call.CallID + `"}`
	lookup := `{"number":"` + fraudNumber + `","language":"en"}`

	// Each row measures the answer its name gives: check it once.
	var verdict struct {
		Verdict string `json:"verdict"`
	}
	for _, q := range []struct{ path, body, want string }{
		{"/v1/verify/caller", checkVerified, "VERDICT_VERIFIED"},
		{"/v1/verify/caller", checkFraud, "VERDICT_KNOWN_FRAUD"},
		{"/v1/verify/number", lookup, "VERDICT_KNOWN_FRAUD"},
	} {
		who := customer
		if q.path == "/v1/verify/number" {
			who = anonymous
		}
		if err := s.rest(ctx, http.MethodPost, q.path, who, json.RawMessage(q.body), &verdict); err != nil {
			return nil, err
		}
		if verdict.Verdict != q.want {
			return nil, fmt.Errorf("%s %s: verdict %s, want %s", q.path, q.body, verdict.Verdict, q.want)
		}
	}
	var valid struct {
		Valid   bool   `json:"valid"`
		Failure string `json:"failure"`
	}
	if err := s.rest(ctx, http.MethodPost, "/v1/tokens:verify", customer, json.RawMessage(verifyToken), &valid); err != nil {
		return nil, err
	}
	if !valid.Valid {
		return nil, fmt.Errorf("VerifyToken of the stamped call's token: %s", valid.Failure)
	}
	if err := s.rest(ctx, http.MethodGet, "/v1/calls/"+call.Call.CallID+"/code", dialer, nil, nil); err != nil {
		return nil, err
	}

	customerMD, err := s.md(ctx, customer)
	if err != nil {
		return nil, err
	}
	dialerMD, err := s.md(ctx, dialer)
	if err != nil {
		return nil, err
	}
	return []namedTarget{
		{"health", grpcTarget{method: healthMethod}},
		{"CheckCaller VERIFIED", grpcTarget{method: verifyService + "CheckCaller", md: customerMD, data: checkVerified}},
		{"CheckCaller KNOWN_FRAUD", grpcTarget{method: verifyService + "CheckCaller", md: customerMD, data: checkFraud}},
		{"VerifyToken", grpcTarget{method: verifyService + "VerifyToken", md: customerMD, data: verifyToken}},
		{"GetConfirmationCode", grpcTarget{method: callService + "GetConfirmationCode", md: dialerMD, data: getCode}},
		{"LookupNumber (anonymous)", grpcTarget{method: verifyService + "LookupNumber", data: lookup}},
		// Last: it grows the store. Each request calls another customer.
		{"StampCall", grpcTarget{method: callService + "StampCall", md: dialerMD,
			data: fmt.Sprintf(stamp, stampCallees)}},
	}, nil
}

// restTarget is CheckCaller of the stamped line over REST.
func (s *server) restTarget(ctx context.Context) (httpTarget, error) {
	tok, err := s.token(ctx, customer)
	if err != nil {
		return httpTarget{}, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Content-Type", "application/json")
	return httpTarget{method: http.MethodPost, url: "http://" + s.httpAddr + "/v1/verify/caller", header: h,
		body: []byte(`{"callerNumber":"` + officialLine + `","language":"en"}`)}, nil
}
