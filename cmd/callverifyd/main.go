// Command callverifyd is the callverify server: gRPC and REST in one
// process, on the embedded store by default.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/netlimit"
)

const name = "callverifyd"

// gcPercent is the garbage collector's target (GOGC) unless the
// environment sets GOGC: the heap may grow to 5 times what is live before
// a collection, not twice. The server allocates per request and keeps
// little (the blocklist index is outside the heap), so at the default the
// collector ran tens of times a second under load, and each cycle also
// shrank the stream workers' stacks, which the next calls grew again:
// BenchmarkHotPaths/CheckCaller spent 23% less CPU a call at 400 than at
// 100. GOMEMLIMIT, when set, still bounds the heap.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// realMain runs the server until ctx is done; --help prints the flags to
// stdout.
func realMain(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := app.ParseFlags(name, args, getenv)
	if errors.Is(err, pflag.ErrHelp) {
		_, err = io.WriteString(stdout, app.Usage(name))
		return err
	}
	if err != nil {
		return fmt.Errorf("%w\n(run %s --help for the flags)", err, name)
	}
	// Every connection holds a descriptor: take all the system allows, and
	// the connection cap (--max-conns 0) is computed from it, below it.
	if _, err := netlimit.RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "callverifyd: warning:", err)
	}
	return app.Run(ctx, cfg, app.Options{})
}
