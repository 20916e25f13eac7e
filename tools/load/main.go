// Command load is callverify's load harness (make load): it builds
// callverifyd and callverify from the repository, starts them on the
// embedded store and on a redis-server of its own, starts an empty-handler
// baseline in a separate process, drives the hot RPCs with ghz (gRPC) and
// vegeta (REST), runs the bulk import and export, restarts the server to
// time its start-up, and prints issue 16's table of figures and targets.
//
// It only uses the service's public surfaces (binaries, flags, routes,
// RPCs), so changes inside the service do not break it. It lives in the
// tools module so that ghz and vegeta never enter the service's go.mod.
//
//	make load                          # a few minutes on 2 cores
//	make load BLOCKLIST=10000000       # the store rows at 10M entries
//	cd tools && go run ./load -h       # every flag
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	// The baseline runs as this same binary in a separate process.
	if len(os.Args) > 1 && os.Args[1] == baselineCmd {
		if err := runBaseline(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "load baseline:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// options are the harness's flags.
type options struct {
	repo        string
	backends    []string
	duration    time.Duration
	reps        int
	concs       []int
	rows        int
	blocklist   int
	matchBench  string
	matchTime   string
	markdown    string
	verbose     bool
	commandLine string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var backends, concs string
	fs.StringVar(&o.repo, "repo", "..", "root of the callverify repository (its go.mod)")
	fs.StringVar(&backends, "backends", "bolt,redis", "comma-separated backends: bolt (embedded store) and/or redis (a redis-server the harness starts)")
	fs.DurationVar(&o.duration, "duration", time.Second, "length of each load run (one A or one B)")
	fs.IntVar(&o.reps, "reps", 3, "A B repetitions per RPC and concurrency; the median ratio is reported")
	fs.StringVar(&concs, "c", "1,50", "comma-separated client concurrencies")
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows of the bulk import (CLI and REST) and export")
	fs.IntVar(&o.blocklist, "blocklist", 100_000, "blocklist entries behind the hot RPCs and the store rows (bytes on disk, RSS and ready time after a restart)")
	fs.StringVar(&o.matchBench, "match-bench", "^BenchmarkMatchString$/^n=10M$", "the blocklist package's Go benchmark of a match at 10M entries (empty: skip)")
	fs.StringVar(&o.matchTime, "match-benchtime", "1000000x", "its -benchtime")
	fs.StringVar(&o.markdown, "md", "", "also write the tables into this Markdown file, between its load markers (e.g. ../docs/performance.md)")
	fs.BoolVar(&o.verbose, "v", false, "log each run")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for _, b := range strings.Split(backends, ",") {
		switch b = strings.TrimSpace(b); b {
		case "bolt", "redis":
			o.backends = append(o.backends, b)
		case "":
		default:
			return options{}, fmt.Errorf("-backends: %q is not bolt or redis", b)
		}
	}
	if len(o.backends) == 0 {
		return options{}, errors.New("-backends: name at least one")
	}
	for _, c := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("-c: %q is not a positive integer", c)
		}
		o.concs = append(o.concs, n)
	}
	switch {
	case o.duration <= 0:
		return options{}, errors.New("-duration must be positive")
	case o.reps < 1:
		return options{}, errors.New("-reps must be at least 1")
	case o.rows < 100 || o.blocklist < 100:
		return options{}, errors.New("-rows and -blocklist must be at least 100")
	}
	abs, err := filepath.Abs(o.repo)
	if err != nil {
		return options{}, err
	}
	o.repo = abs
	if _, err := os.Stat(filepath.Join(o.repo, "cmd", "callverifyd")); err != nil {
		return options{}, fmt.Errorf("-repo %s: not the callverify repository: %w", o.repo, err)
	}
	o.commandLine = "load " + strings.Join(args, " ")
	return o, nil
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	// The commit before the build, so that it names what is built.
	res := &results{machine: describeMachine(ctx, o), opts: o}
	h, err := newHarness(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer h.close()

	fmt.Fprint(stdout, res.machine.text())
	for _, b := range o.backends {
		br, err := h.runBackend(ctx, b)
		if err != nil {
			return fmt.Errorf("backend %s: %w", b, err)
		}
		res.backends = append(res.backends, br)
	}
	if o.matchBench != "" {
		h.logf("blocklist match benchmark %s", o.matchBench)
		res.match, err = runMatchBench(ctx, o)
		if err != nil {
			return err
		}
	}
	fmt.Fprint(stdout, res.text())
	if o.markdown != "" {
		if err := writeMarkdown(o.markdown, res.markdown()); err != nil {
			return fmt.Errorf("write %s: %w", o.markdown, err)
		}
		fmt.Fprintf(stdout, "\nwrote the tables into %s\n", o.markdown)
	}
	return nil
}
