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

// newCallbacksCmd is the dialers' side of verified callbacks: the queue of
// customers' requests, and claiming one to call back.
func (cl *cli) newCallbacksCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "callbacks", Short: "Customers' callback requests: list the queue, claim one (role dialer)"}

	var reason string
	var pageSize int32
	ls := &cobra.Command{
		Use:   "ls [--reason REASON]",
		Short: "List the open callback requests, oldest first; customers' numbers are masked until claimed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &callverifyv1.ListCallbacksRequest{PageSize: pageSize}
			if reason != "" {
				r, ok := callverifyv1.CallReason_value["CALL_REASON_"+strings.ToUpper(reason)]
				if !ok || r == 0 {
					return fmt.Errorf("--reason: %q is not one of follow_up, after_sales, refund, delivery, account_security, other", reason)
				}
				req.Reason = callverifyv1.CallReason(r)
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListCallbacksResponse, error) {
				c := callverifyv1.NewCallbackServiceClient(cc)
				all := &callverifyv1.ListCallbacksResponse{}
				for {
					page, err := c.ListCallbacks(ctx, req)
					if err != nil {
						return nil, err
					}
					all.Callbacks = append(all.Callbacks, page.GetCallbacks()...)
					if page.GetNextPageToken() == "" {
						return all, nil
					}
					req.PageToken = page.GetNextPageToken()
				}
			}, func(out io.Writer, all *callverifyv1.ListCallbacksResponse) error {
				w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "REQUEST\tCUSTOMER\tREASON\tORDER\tLANGUAGE\tWINDOW\tASKED")
				for _, r := range all.GetCallbacks() {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.GetRequestId(), r.GetCalleeNumber(),
						reasonName(r.GetReason()), dash(r.GetOrderRef()),
						r.GetLanguage(), windowText(r.GetPreferredWindow()), r.GetCreateTime().AsTime().Local().Format(time.DateTime))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				return printf(out, "%d open requests\n", len(all.GetCallbacks()))
			})
		},
	}
	ls.Flags().StringVar(&reason, "reason", "", "only requests about this: follow_up, after_sales, refund, delivery, account_security or other")
	ls.Flags().Int32Var(&pageSize, "page-size", 200, "requests per round trip")

	claim := &cobra.Command{
		Use:   "claim REQUEST_ID",
		Short: "Claim an open request: it is yours to call back until the claim timeout; prints the customer's number",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.CallbackRequest, error) {
				return callverifyv1.NewCallbackServiceClient(cc).ClaimCallback(ctx, &callverifyv1.ClaimCallbackRequest{RequestId: args[0]})
			}, func(w io.Writer, r *callverifyv1.CallbackRequest) error {
				return printf(w, "request   %s\ncustomer  %s\nreason    %s\norder     %s\nlanguage  %s\n"+
					"next      callverify call stamp --callback %s --to %s --from YOUR_LINE --reason %s --agent-id ID --agent-name NAME\n",
					r.GetRequestId(), r.GetCalleeNumber(), reasonName(r.GetReason()),
					dash(r.GetOrderRef()), r.GetLanguage(), r.GetRequestId(), r.GetCalleeNumber(), reasonName(r.GetReason()))
			})
		},
	}
	cmd.AddCommand(ls, claim)
	return cmd
}

// windowText is a callback's preferred window, in local time.
func windowText(pw *callverifyv1.TimeWindow) string {
	if pw == nil {
		return "any time"
	}
	return pw.GetStartTime().AsTime().Local().Format("01-02 15:04") + "–" + pw.GetEndTime().AsTime().Local().Format("15:04")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
