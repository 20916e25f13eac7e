package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// newMeCmd is the customer's own calls and callback requests, the CLI side
// of /v1/me (the app's screens, for support staff and scripts).
func (cl *cli) newMeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "me", Short: "As a customer: my live calls, confirming a code, my callback requests (role customer)"}
	cmd.AddCommand(cl.newMyCallsCmd(), cl.newConfirmCmd(), cl.newMyCallbacksCmd())
	return cmd
}

func (cl *cli) newMyCallsCmd() *cobra.Command {
	var lang string
	c := &cobra.Command{
		Use:   "calls",
		Short: "List the official calls to my number that verify now, with the code each agent will read out",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListMyCallsResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).ListMyCalls(ctx, &callverifyv1.ListMyCallsRequest{Language: lang})
			}, func(w io.Writer, r *callverifyv1.ListMyCallsResponse) error {
				for _, m := range r.GetCalls() {
					c := m.GetCall()
					fmt.Fprintf(w, "call %s from %s (%s, %s) code %s until %s\n", c.GetCallId(), c.GetCallerNumber(), c.GetAgentName(),
						reasonName(c.GetReason()), dash(m.GetConfirmationCode()), m.GetCodeExpiresAt().AsTime().Local().Format(time.TimeOnly))
					if msg := m.GetMessage(); msg != "" {
						fmt.Fprintf(w, "  %s\n", msg)
					}
				}
				return printf(w, "%s\n", plural(len(r.GetCalls()), "live call"))
			})
		},
	}
	c.Flags().StringVar(&lang, "language", "zh-CN", "zh-CN or en")
	return c
}

func (cl *cli) newConfirmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "confirm CALL_ID CODE",
		Short: "Check the code the agent said; a few wrong codes lock the call",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ConfirmCodeResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).ConfirmCode(ctx, &callverifyv1.ConfirmCodeRequest{CallId: args[0], Code: args[1]})
			}, func(w io.Writer, r *callverifyv1.ConfirmCodeResponse) error {
				if r.GetMatch() {
					c := r.GetCall()
					return printf(w, "match: call %s from %s (%s) is genuine\n", c.GetCallId(), c.GetCallerNumber(), c.GetAgentName())
				}
				return printf(w, "NO MATCH: %d attempts remaining\n", r.GetAttemptsRemaining())
			})
		},
	}
}

func (cl *cli) newMyCallbacksCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "callbacks", Short: "Ask customer service to call me back, list my requests, cancel one"}

	var reason, order, lang, start, end string
	request := &cobra.Command{
		Use:   "request --reason REASON [--order REF] [--window-start T --window-end T]",
		Short: "Ask for a call back; prints the request and its place in the queue",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := enumValue(callverifyv1.CallReason_value, "CALL_REASON_", "--reason", reason)
			if err != nil {
				return err
			}
			req := &callverifyv1.RequestCallbackRequest{Reason: callverifyv1.CallReason(r), OrderRef: order, Language: lang}
			if (start == "") != (end == "") {
				return errors.New("--window-start and --window-end go together")
			}
			if start != "" {
				s, err := parseTime("--window-start", start)
				if err != nil {
					return err
				}
				e, err := parseTime("--window-end", end)
				if err != nil {
					return err
				}
				req.PreferredWindow = &callverifyv1.TimeWindow{StartTime: s, EndTime: e}
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.CallbackRequest, error) {
				return callverifyv1.NewVerifyServiceClient(cc).RequestCallback(ctx, req)
			}, func(w io.Writer, r *callverifyv1.CallbackRequest) error {
				return printf(w, "request   %s\nstate     %s\nqueue     %d\nwindow    %s\nexpires   %s\n", r.GetRequestId(),
					callbackStateName(r.GetState()), r.GetQueuePosition(), windowText(r.GetPreferredWindow()),
					r.GetExpireTime().AsTime().Local().Format(time.DateTime))
			})
		},
	}
	request.Flags().StringVar(&reason, "reason", "", "follow_up, after_sales, refund, delivery, account_security or other")
	request.Flags().StringVar(&order, "order", "", "the order it is about (optional, <= 64 characters)")
	request.Flags().StringVar(&lang, "language", "zh-CN", "the language to be spoken to in: zh-CN or en")
	request.Flags().StringVar(&start, "window-start", "", "call me from: RFC 3339 time or a duration from now (2h)")
	request.Flags().StringVar(&end, "window-end", "", "call me until: RFC 3339 time or a duration from now (4h)")
	_ = request.MarkFlagRequired("reason")

	ls := &cobra.Command{
		Use: "ls", Short: "List my callback requests, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListMyCallbacksResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).ListMyCallbacks(ctx, &callverifyv1.ListMyCallbacksRequest{})
			}, func(out io.Writer, all *callverifyv1.ListMyCallbacksResponse) error {
				w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "REQUEST\tSTATE\tQUEUE\tREASON\tORDER\tWINDOW\tASKED")
				for _, r := range all.GetCallbacks() {
					queue := "-"
					if r.GetQueuePosition() > 0 {
						queue = fmt.Sprint(r.GetQueuePosition())
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.GetRequestId(), callbackStateName(r.GetState()), queue,
						reasonName(r.GetReason()), dash(r.GetOrderRef()), windowText(r.GetPreferredWindow()),
						r.GetCreateTime().AsTime().Local().Format(time.DateTime))
				}
				return w.Flush()
			})
		},
	}

	cancel := &cobra.Command{
		Use: "cancel REQUEST_ID", Short: "Withdraw an open or claimed request of mine", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.CallbackRequest, error) {
				return callverifyv1.NewVerifyServiceClient(cc).CancelCallback(ctx, &callverifyv1.CancelCallbackRequest{RequestId: args[0]})
			}, func(w io.Writer, r *callverifyv1.CallbackRequest) error {
				return printf(w, "request %s is %s\n", r.GetRequestId(), callbackStateName(r.GetState()))
			})
		},
	}
	cmd.AddCommand(request, ls, cancel)
	return cmd
}

// newReportCmd is the customer's report of a suspicious caller; analysts
// read the reports with `reports list`.
func (cl *cli) newReportCmd() *cobra.Command {
	var note, at string
	c := &cobra.Command{
		Use:   "report CALLER [--note TEXT] [--at TIME]",
		Short: "As a customer: report a suspicious caller to the analysts (role customer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &callverifyv1.ReportCallerRequest{CallerNumber: args[0], Note: note}
			if at != "" {
				if d, err := time.ParseDuration(at); err == nil {
					req.OccurTime = timestamppb.New(time.Now().Add(-d))
				} else if req.OccurTime, err = parseTime("--at", at); err != nil {
					return err
				}
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Report, error) {
				return callverifyv1.NewVerifyServiceClient(cc).ReportCaller(ctx, req)
			}, func(w io.Writer, r *callverifyv1.Report) error {
				return printf(w, "reported %s (report %s, call at %s)\n", r.GetCallerNumber(), r.GetReportId(),
					r.GetOccurTime().AsTime().Local().Format(time.DateTime))
			})
		},
	}
	c.Flags().StringVar(&note, "note", "", "what happened (<= 500 characters)")
	c.Flags().StringVar(&at, "at", "", "when the call came: RFC 3339 time or how long ago (15m); default now")
	return c
}

// parseTime takes an RFC 3339 time or a duration from now ("2h").
func parseTime(flag, s string) (*timestamppb.Timestamp, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return timestamppb.New(time.Now().Add(d)), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is neither RFC 3339 (2027-01-31T17:00:00+08:00) nor a duration (2h)", flag, s)
	}
	return timestamppb.New(t), nil
}

func callbackStateName(s callverifyv1.CallbackState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CALLBACK_STATE_"))
}
