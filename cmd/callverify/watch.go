package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// newWatchCmd follows the customer's live call cards until interrupted.
func (cl *cli) newWatchCmd() *cobra.Command {
	var since, lang string
	var heartbeats bool
	cmd := &cobra.Command{
		Use:   "watch [--since EVENT_ID]",
		Short: "As a customer: print call cards as dialers stamp calls to me, and what becomes of them (Ctrl-C to stop)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(cl, cmd, streaming, func(ctx context.Context, cc *grpc.ClientConn) error {
				stream, err := callverifyv1.NewVerifyServiceClient(cc).WatchMyCalls(ctx, &callverifyv1.WatchMyCallsRequest{Since: since, Language: lang})
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				for {
					ev, err := stream.Recv()
					switch {
					case errors.Is(err, io.EOF):
						return nil
					case status.Code(err) == codes.Canceled && cmd.Context().Err() != nil:
						return nil // interrupted: the end the user asked for
					case err != nil:
						return err
					}
					if ev.GetType() == callverifyv1.CallEventType_CALL_EVENT_TYPE_HEARTBEAT && !heartbeats {
						continue
					}
					if cl.json {
						err = printJSONLine(w, ev)
					} else {
						err = printCallEvent(w, ev)
					}
					if err != nil {
						return err
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "resume after this event id (printed with each event)")
	cmd.Flags().StringVar(&lang, "language", "zh-CN", "zh-CN or en")
	cmd.Flags().BoolVar(&heartbeats, "heartbeats", false, "print heartbeats too")
	return cmd
}

// printCallEvent prints one event on one line (two for a new card: its
// words), with the id to resume after.
func printCallEvent(w io.Writer, ev *callverifyv1.CallEvent) error {
	kind := strings.TrimPrefix(ev.GetType().String(), "CALL_EVENT_TYPE_")
	at := ev.GetEventTime().AsTime().Local().Format(time.TimeOnly)
	card := ev.GetCard()
	c := card.GetCall()
	line := fmt.Sprintf("%s %-9s", at, kind)
	if c != nil {
		line += fmt.Sprintf(" call %s from %s", c.GetCallId(), c.GetCallerNumber())
		if name := c.GetAgentName(); name != "" {
			line += fmt.Sprintf(" (%s, %s)", name, strings.ToLower(strings.TrimPrefix(c.GetReason().String(), "CALL_REASON_")))
		}
		if code := card.GetConfirmationCode(); code != "" {
			line += " code " + code
		}
	}
	if id := ev.GetEventId(); id != "" {
		line += "  [id " + id + "]"
	}
	if msg := card.GetMessage(); msg != "" && ev.GetType() == callverifyv1.CallEventType_CALL_EVENT_TYPE_STAMPED {
		line += "\n         " + msg
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
