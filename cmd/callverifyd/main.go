// Command callverifyd is the callverify server: gRPC and REST in one
// process, on the embedded store by default.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/netlimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "callverifyd:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	cfg, err := app.ParseFlags("callverifyd", args, os.Getenv)
	if err != nil {
		return err
	}
	// Every connection holds a descriptor: take all the system allows, and
	// the connection cap (--max-conns 0) is computed from it, below it.
	if _, err := netlimit.RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "callverifyd: warning:", err)
	}
	return app.Run(ctx, cfg, app.Options{})
}
