// Command callverify is the command-line tool for customers, dialers, analysts
// and admins: it mints development tokens and calls every RPC of the service
// over gRPC.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		if s, ok := status.FromError(err); ok {
			fmt.Fprintf(os.Stderr, "callverify: %s: %s\n", s.Code(), s.Message())
		} else {
			fmt.Fprintln(os.Stderr, "callverify:", err)
		}
		os.Exit(exitCode(err))
	}
}

// cli holds the root's persistent flags. Every command is built by a
// method of the one cli its root binds the flags to, so that each root (and
// each test) has its own.
type cli struct {
	server  string
	token   string
	json    bool
	timeout time.Duration
}

const rootLong = `callverify talks to callverifyd over gRPC: a command for every RPC of every service (docs/cli.md
lists them). It reads the server's address from --server or CALLVERIFY_SERVER and the bearer token from --token
or CALLVERIFY_TOKEN; against a server started with --dev, "callverify token mint" prints one.

Every command prints for people by default and, with --json, the server's answer as protojson (streams: one
object a line).

` + exitCodesHelp

func newRootCmd() *cobra.Command {
	cl := &cli{}
	root := &cobra.Command{
		Use:           "callverify",
		Short:         "Command-line tool for callverify: tokens, official numbers, calls and the blocklist",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	server := os.Getenv("CALLVERIFY_SERVER")
	if server == "" {
		server = "localhost:9090"
	}
	root.PersistentFlags().StringVar(&cl.server, "server", server, "gRPC address of callverifyd (env CALLVERIFY_SERVER)")
	root.PersistentFlags().StringVar(&cl.token, "token", os.Getenv("CALLVERIFY_TOKEN"), "bearer token (env CALLVERIFY_TOKEN)")
	root.PersistentFlags().BoolVar(&cl.json, "json", false, "print results as JSON")
	root.PersistentFlags().DurationVar(&cl.timeout, "timeout", 30*time.Second, "deadline of each call")
	root.AddCommand(cl.newTokenCmd(), cl.newOfficialCmd(), cl.newKeysCmd(),
		cl.newBlocklistCmd(), cl.newReportsCmd(), cl.newAuditCmd(),
		cl.newCallCmd(), cl.newCallbacksCmd(),
		cl.newCheckCmd(), cl.newLookupCmd(), cl.newReportCmd(), cl.newMeCmd(), cl.newDevicesCmd(), cl.newPreferencesCmd(), cl.newWatchCmd())
	return root
}

// printJSON writes m as indented protojson, in one stable layout.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := stableJSON(m, "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// printJSONLine writes m as protojson on one line: a stream's items, one
// per line (NDJSON).
func printJSONLine(w io.Writer, m proto.Message) error {
	b, err := stableJSON(m, "")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// stableJSON is m as protojson, laid out by encoding/json: compact when
// indent is empty, else indented by it. protojson varies its whitespace on
// purpose, from one build of the binary to the next, and scripts and the
// README's test compare what the CLI prints.
func stableJSON(m proto.Message, indent string) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if indent == "" {
		err = json.Compact(&out, b)
	} else {
		err = json.Indent(&out, b, "", indent)
	}
	return out.Bytes(), err
}
