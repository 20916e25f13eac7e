package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine says where and how the figures were taken.
type machine struct {
	cpus      int
	cpuModel  string
	goVersion string
	commit    string
	date      time.Time
	command   string
}

func describeMachine(ctx context.Context, o options) machine {
	m := machine{cpus: runtime.NumCPU(), cpuModel: "unknown", date: time.Now().UTC(), command: o.commandLine}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		m.goVersion = strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
	}
	git := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty", "--abbrev=12")
	git.Dir = o.repo
	if out, err := git.Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
	} else {
		m.commit = "unknown (not a git checkout)"
	}
	return m
}

func (m machine) text() string {
	return fmt.Sprintf("machine: %d CPUs (nproc), %s; %s\ncommit:  %s\ndate:    %s\ncommand: %s\n\n",
		m.cpus, m.cpuModel, m.goVersion, m.commit, m.date.Format(time.RFC3339), m.command)
}

// matchResult is the blocklist package's match benchmark.
type matchResult struct {
	name string
	ns   float64
}

// runMatchBench runs o.matchBench in the blocklist package and reads its
// ns/op.
func runMatchBench(ctx context.Context, o options) (*matchResult, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", o.matchBench, "-benchtime", o.matchTime,
		"-count", "1", "-benchmem", "./blocklist/")
	cmd.Dir = o.repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s ./blocklist/: %w\n%s", o.matchBench, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 1; i+1 < len(f); i++ {
			if f[i+1] == "ns/op" && strings.HasPrefix(f[0], "Benchmark") {
				ns, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
				}
				return &matchResult{name: f[0], ns: ns}, nil
			}
		}
	}
	return nil, fmt.Errorf("go test -bench %s ./blocklist/ ran no benchmark (renamed?):\n%s", o.matchBench, out)
}

// results is one whole run of the harness.
type results struct {
	machine  machine
	opts     options
	backends []backendResult
	match    *matchResult
}

// mark is ✓ when a target is met and ✗ when not.
func mark(ok bool) string {
	if ok {
		return " ✓"
	}
	return " ✗"
}

// headline is one row of issue 16's table: a figure per backend and its
// target.
type headline struct {
	figure string
	target string
	cell   func(b backendResult) string
}

func (r *results) topConc() int { return r.opts.concs[len(r.opts.concs)-1] }

// row is the row of b named name at the top concurrency.
func (b backendResult) row(name string, c int) (rpcRow, bool) {
	for _, x := range b.rows {
		if x.name == name && x.c == c {
			return x, true
		}
	}
	return rpcRow{}, false
}

func (r *results) headlines() []headline {
	c := r.topConc()
	ratioCell := func(name string, want float64) func(backendResult) string {
		return func(b backendResult) string {
			x, ok := b.row(name, c)
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.3fx%s", x.ratio(), mark(x.ratio() >= want))
		}
	}
	return []headline{
		{fmt.Sprintf("StampCall throughput / p99 (c=%d)", c), ">= 0.33x, p99 <= 15 ms", func(b backendResult) string {
			x, ok := b.row("StampCall", c)
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.3fx, p99 %s%s", x.ratio(), ms(x.p99()), mark(x.ratio() >= 0.33 && x.p99() <= 15*time.Millisecond))
		}},
		{fmt.Sprintf("CheckCaller, %s-entry blocklist (c=%d): VERIFIED / KNOWN_FRAUD", count(r.opts.blocklist), c), ">= 0.6x", func(b backendResult) string {
			return ratioCell("CheckCaller VERIFIED", 0.6)(b) + " / " + ratioCell("CheckCaller KNOWN_FRAUD", 0.6)(b)
		}},
		{fmt.Sprintf("VerifyToken (c=%d)", c), ">= 0.22x", ratioCell("VerifyToken", 0.22)},
		{fmt.Sprintf("REST / gRPC, CheckCaller VERIFIED (c=%d)", c), ">= 0.9x", func(b backendResult) string {
			p := b.restGRPC
			if len(p.b) == 0 {
				return "—"
			}
			// The throughput ratio of runs taken in turn is the figure, as
			// the issue defines it; it includes what each client spends per
			// request (ghz more than vegeta). The server's CPU per request,
			// gRPC's over REST's, beside it leaves the clients out.
			q := p.ratio()
			cpu := "n/a"
			if rc := p.cpuPerReq(); rc > 0 {
				cpu = fmt.Sprintf("%.2fx", float64(perReq(p.a, func(x run) time.Duration { return x.cpu }))/float64(rc))
			}
			return fmt.Sprintf("%.3fx (pairs %s; server CPU/req gRPC/REST %s)%s", q, ratiosText(p.ratios()), cpu, mark(q >= 0.9))
		}},
		{fmt.Sprintf("bulk import, %s rows: CLI / REST", count(r.opts.rows)), ">= 200k rows/s", func(b backendResult) string {
			return fmt.Sprintf("%s%s / %s%s", perSec(b.bulk.cliRowsPerSec), mark(b.bulk.cliRowsPerSec >= 200_000),
				perSec(b.bulk.restRowsPerSec), mark(b.bulk.restRowsPerSec >= 200_000))
		}},
		{fmt.Sprintf("export, %s rows (CLI)", count(r.opts.rows)), ">= 150k rows/s", func(b backendResult) string {
			return perSec(b.bulk.exportRowsPerSec) + mark(b.bulk.exportRowsPerSec >= 150_000)
		}},
		{"blocklist match at 10M (Go benchmark, in-process)", "<= 250 ns", func(backendResult) string {
			if r.match == nil {
				return "not run"
			}
			return fmt.Sprintf("%.0f ns%s", r.match.ns, mark(r.match.ns <= 250))
		}},
		{fmt.Sprintf("store on disk, %s entries", count(r.opts.blocklist)), "<= 100 B/entry (embedded)", func(b backendResult) string {
			if b.name != "bolt" {
				return "— (in Redis)"
			}
			per := float64(b.st.diskBytes) / float64(max(b.st.entries, 1))
			return fmt.Sprintf("%.0f B/entry, %s%s", per, bytesText(b.st.diskBytes), mark(per <= 100))
		}},
		{fmt.Sprintf("VmRSS after a restart at %s", count(r.opts.blocklist)), "<= 600 MB (embedded)", func(b backendResult) string {
			if b.name != "bolt" {
				return bytesText(b.st.rssAfter) + " (no target)"
			}
			return bytesText(b.st.rssAfter) + mark(b.st.rssAfter <= 600<<20)
		}},
		{fmt.Sprintf("ready after a restart at %s", count(r.opts.blocklist)), "<= 2 s", func(b backendResult) string {
			return fmt.Sprintf("%.2f s%s", b.st.readyAfter.Seconds(), mark(b.st.readyAfter <= 2*time.Second))
		}},
	}
}

func backendTitle(name string) string {
	if name == "bolt" {
		return "embedded (bbolt)"
	}
	return "Redis"
}

// markdown is the tables of r as Markdown, which also reads well in a
// terminal.
func (r *results) markdown() string {
	var b strings.Builder
	m := r.machine
	fmt.Fprintf(&b, "Machine: %d CPUs (nproc), %s; %s. Commit %s, %s.\n\n", m.cpus, m.cpuModel, m.goVersion, m.commit, m.date.Format(time.RFC3339))
	fmt.Fprintf(&b, "Command: `%s`\n\n", m.command)
	b.WriteString("| figure |")
	for _, be := range r.backends {
		b.WriteString(" " + backendTitle(be.name) + " |")
	}
	b.WriteString(" target |\n|---|")
	for range r.backends {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, h := range r.headlines() {
		b.WriteString("| " + h.figure + " |")
		for _, be := range r.backends {
			b.WriteString(" " + h.cell(be) + " |")
		}
		b.WriteString(" " + h.target + " |\n")
	}
	fmt.Fprintf(&b, "\nRatios are our throughput over the empty handler's (gRPC health / HTTP), same client, same run: "+
		"A B pairs of %v each, %d repetitions, median. Latencies are ghz's (gRPC) or vegeta's (REST) medians over the repetitions; "+
		"server CPU is utime+stime of callverifyd from /proc over its runs, per request (Redis CPU the same of its redis-server, on the same cores; "+
		"client CPU the same of the load tool, ghz or vegeta in the harness's process, on the same cores too); VmRSS after its last run.\n",
		r.opts.duration, r.opts.reps)
	if r.match != nil {
		fmt.Fprintf(&b, "The match figure is `go test -bench '%s' -benchtime %s ./blocklist/` (%s).\n", r.opts.matchBench, r.opts.matchTime, r.match.name)
	}
	for _, be := range r.backends {
		fmt.Fprintf(&b, "\n#### %s: hot RPCs (%s-entry blocklist)\n\n", backendTitle(be.name), count(r.opts.blocklist))
		b.WriteString("| RPC | c | ratio | ratios | ours/s | baseline/s | p50 | p99 | server CPU/req | Redis CPU/req | client CPU/req | server VmRSS | failed |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		rows := append(append([]rpcRow(nil), be.rows...), be.rest)
		for _, x := range rows {
			if len(x.b) == 0 {
				continue
			}
			storeCPU := "—"
			if be.name == "redis" {
				storeCPU = us(x.storeCPUPerReq())
			}
			fmt.Fprintf(&b, "| %s | %d | %.3fx | %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", x.name, x.c, x.ratio(),
				ratiosText(x.ratios()), x.rps(), x.baseRPS(), ms(x.p50()), ms(x.p99()), us(x.cpuPerReq()), storeCPU, us(x.clientCPUPerReq()),
				bytesText(x.rss()), orNone(x.errorsText()))
		}
		bu, st := be.bulk, be.st
		fmt.Fprintf(&b, "\nBulk (%s generated rows each: numbers, 1 prefix in 10,000, bad rows): CLI import %.1f s (%d entries after it), "+
			"export of %d entries %.1f s, REST import %.1f s (%s). Store: %d entries imported over the CLI at %s, then restarted.\n",
			count(bu.rows), bu.cliTime.Seconds(), bu.cliImported, bu.exported, bu.exportTime.Seconds(), bu.restTime.Seconds(), bu.restSummary,
			st.entries, perSec(st.importPerSec))
	}
	return b.String()
}

func (r *results) text() string { return r.markdown() }

const (
	markBegin = "<!-- load:begin (written by make load; edit outside these markers) -->"
	markEnd   = "<!-- load:end -->"
)

// writeMarkdown puts body between the load markers of path, keeping the
// rest of the file; a file without markers gets them at its end.
func writeMarkdown(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	section := markBegin + "\n" + body + markEnd
	i, j := strings.Index(s, markBegin), strings.Index(s, markEnd)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + section + s[j+len(markEnd):]
	default:
		if s != "" && !strings.HasSuffix(s, "\n\n") {
			s = strings.TrimRight(s, "\n") + "\n\n"
		}
		s += section + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
}

func perSec(v float64) string {
	if v >= 10_000 {
		return fmt.Sprintf("%.0fk rows/s", v/1000)
	}
	return fmt.Sprintf("%.0f rows/s", v)
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d kB", n>>10)
}

func orNone(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
