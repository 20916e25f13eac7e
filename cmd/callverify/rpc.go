package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Exit codes, the same for every command (README, `callverify --help`).
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

// unary is the one shape of a command that makes one call: dial with the
// token and the --timeout deadline, call f, and print its answer, as
// protojson with --json (or when human is nil), else through human.
func unary[T proto.Message](cl *cli, cmd *cobra.Command, f func(context.Context, *grpc.ClientConn) (T, error), human func(io.Writer, T) error) error {
	cc, ctx, done, err := cl.dial(cmd)
	if err != nil {
		return err
	}
	defer done()
	return callAndPrint(cl, cmd, ctx, cc, f, human)
}

// anonymousUnary is unary for the anonymous RPCs: no token is needed, and
// none is sent.
func anonymousUnary[T proto.Message](cl *cli, cmd *cobra.Command, f func(context.Context, *grpc.ClientConn) (T, error), human func(io.Writer, T) error) error {
	cc, ctx, done, err := cl.connectAs(cmd, cl.timeout, false)
	if err != nil {
		return err
	}
	defer done()
	return callAndPrint(cl, cmd, ctx, cc, f, human)
}

func callAndPrint[T proto.Message](cl *cli, cmd *cobra.Command, ctx context.Context, cc *grpc.ClientConn, f func(context.Context, *grpc.ClientConn) (T, error), human func(io.Writer, T) error) error {
	r, err := f(ctx, cc)
	if err != nil {
		return err
	}
	if cl.json || human == nil {
		return printJSON(cmd.OutOrStdout(), r)
	}
	return human(cmd.OutOrStdout(), r)
}

// printf is fmt.Fprintf for human output, which returns only the error.
func printf(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format, args...)
	return err
}
