package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Exit codes, the same for every command (`callverify --help`, docs/cli.md).
const (
	exitOK          = 0
	exitUsage       = 1 // bad flags or arguments, or a local file that cannot be read or written
	exitRefused     = 2 // the server refused the request: invalid, not found, not allowed, a conflict
	exitUnavailable = 3 // the server could not answer now: unreachable, timed out, rate-limited; try again
	exitServerError = 4 // the server failed: an internal error, or an RPC it does not implement
)

// exitCode maps the error a command returned to the process's exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return exitUnavailable
	}
	s, ok := status.FromError(err)
	if !ok {
		return exitUsage
	}
	switch s.Code() {
	case codes.OK:
		return exitOK
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange:
		return exitRefused
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Canceled:
		return exitUnavailable
	}
	return exitServerError
}

const exitCodesHelp = `Exit codes:
  0  done
  1  usage: bad flags or arguments, or a local file that cannot be read or written
  2  refused by the server: invalid, not found, not allowed, or a conflict
  3  unavailable: the server could not be reached, timed out or rate-limited the request; try again
  4  server error: an internal error, or an RPC this server does not implement`

// callKind says how a command reaches the server.
type callKind int

const (
	withToken callKind = iota // the bearer token, and the --timeout deadline
	anonymous                 // no token is needed, and none is sent (LookupNumber)
	streaming                 // the token, and no deadline: imports, exports and watch last as long as they take
)

// withConn is the one way a command reaches the server: dial --server,
// send the token (unless anonymous), bound the call by --timeout (unless
// streaming), run f, and close. unary builds on it; the streaming commands
// call it directly.
func withConn(cl *cli, cmd *cobra.Command, kind callKind, f func(context.Context, *grpc.ClientConn) error) error {
	if kind != anonymous && cl.token == "" {
		return errors.New("no token: set CALLVERIFY_TOKEN or --token (for a local server: callverify token mint)")
	}
	cc, err := grpc.NewClient(cl.server, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cl.server, err)
	}
	defer cc.Close()
	ctx := cmd.Context()
	if kind != anonymous {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+cl.token)
	}
	if kind != streaming && cl.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cl.timeout)
		defer cancel()
	}
	return f(ctx, cc)
}

// unary is the one shape of a command that makes one call (or pages
// through one list): reach the server as kind says, call f, and print its
// answer, as protojson with --json (or when human is nil), else through
// human.
func unary[T proto.Message](cl *cli, cmd *cobra.Command, kind callKind, f func(context.Context, *grpc.ClientConn) (T, error), human func(io.Writer, T) error) error {
	return withConn(cl, cmd, kind, func(ctx context.Context, cc *grpc.ClientConn) error {
		r, err := f(ctx, cc)
		if err != nil {
			return err
		}
		if cl.json || human == nil {
			return printJSON(cmd.OutOrStdout(), r)
		}
		return human(cmd.OutOrStdout(), r)
	})
}

// printf is fmt.Fprintf for human output, which returns only the error.
func printf(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format, args...)
	return err
}
