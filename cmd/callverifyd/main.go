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
	"syscall"

	"github.com/spf13/pflag"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/netlimit"
)

const name = "callverifyd"

func main() {
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
