package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

func (cl *cli) newCallCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "call", Aliases: []string{"calls"}, Short: "Stamp and manage outbound calls (role dialer; ls and end-all: role admin)"}

	var req callverifyv1.StampCallRequest
	var reason string
	var ttl time.Duration
	stamp := &cobra.Command{
		Use:   "stamp --from CALLER --to CUSTOMER --reason REASON --agent-id ID --agent-name NAME",
		Short: "Stamp a call before dialling; prints the call id, the code to read out and the signed token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, ok := callverifyv1.CallReason_value["CALL_REASON_"+strings.ToUpper(reason)]
			if !ok || r == 0 {
				return fmt.Errorf("--reason: %q is not one of follow_up, after_sales, refund, delivery, account_security, marketing, other", reason)
			}
			req.Reason = callverifyv1.CallReason(r)
			req.TtlSeconds = int32(ttl / time.Second)
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.StampCallResponse, error) {
				return callverifyv1.NewCallServiceClient(cc).StampCall(ctx, &req)
			}, func(w io.Writer, resp *callverifyv1.StampCallResponse) error {
				c := resp.GetCall()
				return printf(w, "call      %s\ncode      %s (valid until %s)\nexpires   %s\ntoken     %s\n",
					c.GetCallId(), resp.GetConfirmationCode(), resp.GetCodeExpiresAt().AsTime().Local().Format(time.TimeOnly),
					c.GetExpireTime().AsTime().Local().Format(time.DateTime), resp.GetToken())
			})
		},
	}
	f := stamp.Flags()
	f.StringVar(&req.CallerNumber, "from", "", "the official number that places the call")
	f.StringVar(&req.CalleeNumber, "to", "", "the customer's number")
	f.StringVar(&reason, "reason", "", "follow_up, after_sales, refund, delivery, account_security, marketing or other")
	f.StringVar(&req.ReasonText, "text", "", "a short reason shown to the customer (<= 64 characters, no links)")
	f.StringVar(&req.CustomerId, "customer-id", "", "the customer's id (optional)")
	f.StringVar(&req.OrderRef, "order", "", "the order the call is about (optional)")
	f.StringVar(&req.AgentId, "agent-id", "", "the agent's id")
	f.StringVar(&req.AgentName, "agent-name", "", "the agent's name shown to the customer")
	f.DurationVar(&ttl, "ttl", 10*time.Minute, "how long the call verifies (at most 1h)")
	f.StringVar(&req.CallbackRequestId, "callback", "", "the callback request this call answers: one you claimed (callbacks claim), to its customer's number")
	for _, name := range []string{"from", "to", "reason", "agent-id", "agent-name"} {
		_ = stamp.MarkFlagRequired(name)
	}

	get := &cobra.Command{
		Use: "get CALL_ID", Short: "Show a call", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// JSON with or without --json: a call has too many fields for a line.
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Call, error) {
				return callverifyv1.NewCallServiceClient(cc).GetCall(ctx, &callverifyv1.GetCallRequest{CallId: args[0]})
			}, nil)
		},
	}
	end := &cobra.Command{
		Use: "end CALL_ID", Short: "End a call: it stops verifying at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Call, error) {
				return callverifyv1.NewCallServiceClient(cc).EndCall(ctx, &callverifyv1.EndCallRequest{CallId: args[0]})
			}, func(w io.Writer, c *callverifyv1.Call) error {
				return printf(w, "call %s is %s\n", c.GetCallId(), stateName(c.GetState()))
			})
		},
	}
	code := &cobra.Command{
		Use: "code CALL_ID", Short: "The confirmation code the agent reads out now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.GetConfirmationCodeResponse, error) {
				return callverifyv1.NewCallServiceClient(cc).GetConfirmationCode(ctx, &callverifyv1.GetConfirmationCodeRequest{CallId: args[0]})
			}, func(w io.Writer, r *callverifyv1.GetConfirmationCodeResponse) error {
				return printf(w, "%s (valid until %s)\n", r.GetConfirmationCode(), r.GetCodeExpiresAt().AsTime().Local().Format(time.TimeOnly))
			})
		},
	}
	cmd.AddCommand(stamp, get, end, code, cl.newCallListCmd(), cl.newCallEndAllCmd())
	return cmd
}

// newCallListCmd lists the live calls of an official line (role admin).
func (cl *cli) newCallListCmd() *cobra.Command {
	var caller string
	ls := &cobra.Command{
		Use:   "ls --caller NUMBER",
		Short: "List the live calls of an official line, earliest expiry first (role admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListCallsResponse, error) {
				c := callverifyv1.NewCallServiceClient(cc)
				all := &callverifyv1.ListCallsResponse{}
				for tok := ""; ; {
					page, err := c.ListCalls(ctx, &callverifyv1.ListCallsRequest{CallerNumber: caller, PageSize: 1000, PageToken: tok})
					if err != nil {
						return nil, err
					}
					all.Calls = append(all.Calls, page.GetCalls()...)
					if tok = page.GetNextPageToken(); tok == "" {
						return all, nil
					}
				}
			}, func(w io.Writer, all *callverifyv1.ListCallsResponse) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CALL\tCALLEE\tAGENT\tEXPIRES")
				for _, call := range all.GetCalls() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", call.GetCallId(), call.GetCalleeNumber(), call.GetAgentId(),
						call.GetExpireTime().AsTime().Local().Format(time.DateTime))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				return printf(w, "%s\n", plural(len(all.GetCalls()), "live call"))
			})
		},
	}
	ls.Flags().StringVar(&caller, "caller", "", "the official line")
	_ = ls.MarkFlagRequired("caller")
	return ls
}

// newCallEndAllCmd ends every live call of an official line (role admin).
func (cl *cli) newCallEndAllCmd() *cobra.Command {
	var caller string
	endAll := &cobra.Command{
		Use:   "end-all --caller NUMBER",
		Short: "End every live call of an official line at once; they stop verifying (role admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.EndCallsResponse, error) {
				return callverifyv1.NewCallServiceClient(cc).EndCalls(ctx, &callverifyv1.EndCallsRequest{CallerNumber: caller})
			}, func(w io.Writer, r *callverifyv1.EndCallsResponse) error {
				return printf(w, "ended %s\n", plural(int(r.GetEndedCount()), "call"))
			})
		},
	}
	endAll.Flags().StringVar(&caller, "caller", "", "the official line")
	_ = endAll.MarkFlagRequired("caller")
	return endAll
}

func (cl *cli) newCheckCmd() *cobra.Command {
	var lang string
	cmd := &cobra.Command{
		Use:   "check CALLER",
		Short: "As a customer: is this number calling me on the platform's behalf right now?",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.CheckCallerResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).CheckCaller(ctx, &callverifyv1.CheckCallerRequest{CallerNumber: args[0], Language: lang})
			}, func(w io.Writer, r *callverifyv1.CheckCallerResponse) error {
				var call string
				if c := r.GetCall(); c != nil {
					call = fmt.Sprintf("agent %s, %s, code %s", c.GetAgentName(), reasonName(c.GetReason()), r.GetConfirmationCode())
				}
				return printVerdict(w, r.GetVerdict(), r.GetCallerNumber(), r.GetMessage(), r.GetBlocklistCategory(), call, r.GetAdvice())
			})
		},
	}
	cmd.Flags().StringVar(&lang, "language", "zh-CN", "zh-CN or en")
	return cmd
}

// reasonName is a call reason as the flags take it: "refund".
func reasonName(r callverifyv1.CallReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "CALL_REASON_"))
}

func stateName(s callverifyv1.CallState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CALL_STATE_"))
}

// plural says "1 call" or "2 calls".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
