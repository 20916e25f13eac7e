package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

func (cl *cli) newReportsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "reports", Short: "Numbers customers reported (role analyst)"}
	var size int32
	var token string
	list := &cobra.Command{
		Use:   "list",
		Short: "List reported numbers, open ones and the busiest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListReportedNumbersResponse, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).ListReportedNumbers(ctx, &callverifyv1.ListReportedNumbersRequest{PageSize: size, PageToken: token})
			}, printReportedNumbers)
		},
	}
	list.Flags().Int32Var(&size, "page-size", 50, "numbers per page")
	list.Flags().StringVar(&token, "page-token", "", "the page to show")

	var block, dismiss bool
	var cat, reason string
	resolve := &cobra.Command{
		Use:   "resolve NUMBER (--block --category C [--reason R] | --dismiss)",
		Short: "Close a number's reports: block it, or dismiss them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &callverifyv1.ResolveReportedNumberRequest{CallerNumber: args[0], Reason: reason}
			switch {
			case block:
				c, err := category("--category", cat)
				if err != nil {
					return err
				}
				req.Action, req.Category = callverifyv1.ResolveAction_RESOLVE_ACTION_BLOCK, c
			case dismiss:
				req.Action = callverifyv1.ResolveAction_RESOLVE_ACTION_DISMISS
			default:
				return errors.New("say --block or --dismiss")
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ResolveReportedNumberResponse, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).ResolveReportedNumber(ctx, req)
			}, func(w io.Writer, res *callverifyv1.ResolveReportedNumberResponse) error {
				r := res.GetReportedNumber()
				fmt.Fprintf(w, "%s: %s (%d reports by %d customers)\n", r.GetCallerNumber(),
					short(r.GetStatus().String(), "REPORT_STATUS_"), r.GetReportCount(), r.GetDistinctReporters())
				if res.GetEntry() != nil {
					return printEntries(w, []*callverifyv1.Entry{res.GetEntry()})
				}
				return nil
			})
		},
	}
	resolve.Flags().BoolVar(&block, "block", false, "block the number")
	resolve.Flags().BoolVar(&dismiss, "dismiss", false, "dismiss the reports")
	resolve.Flags().StringVar(&cat, "category", "", "category of the block")
	resolve.Flags().StringVar(&reason, "reason", "", "reason of the block")
	resolve.MarkFlagsMutuallyExclusive("block", "dismiss")
	cmd.AddCommand(list, resolve)
	return cmd
}

// printReportedNumbers is the human form of a page of reported numbers.
func printReportedNumbers(w io.Writer, res *callverifyv1.ListReportedNumbersResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tREPORTS\tREPORTERS\tSTATUS\tLAST\tLATEST NOTE")
	for _, r := range res.GetReportedNumbers() {
		note := ""
		if len(r.GetNotes()) > 0 {
			note = r.GetNotes()[0]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", r.GetCallerNumber(), r.GetReportCount(), r.GetDistinctReporters(),
			short(r.GetStatus().String(), "REPORT_STATUS_"), r.GetLastReportTime().AsTime().Local().Format(time.DateTime), note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.GetNextPageToken() != "" {
		return printf(w, "next page: --page-token %s\n", res.GetNextPageToken())
	}
	return nil
}
