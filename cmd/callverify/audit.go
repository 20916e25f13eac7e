package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

func (cl *cli) newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The audit log of analysts' and admins' actions (role analyst)"}
	var actorF, action, token string
	var size int32
	list := &cobra.Command{
		Use:   "list [--actor SUB] [--action ACTION]",
		Short: "List audit events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListAuditEventsResponse, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).ListAuditEvents(ctx, &callverifyv1.ListAuditEventsRequest{
					Actor: actorF, Action: action, PageSize: size, PageToken: token,
				})
			}, printAuditEvents)
		},
	}
	list.Flags().StringVar(&actorF, "actor", "", "only this actor (token subject)")
	list.Flags().StringVar(&action, "action", "", "only this action, e.g. entry.create, entry.import, reported_number.block")
	list.Flags().Int32Var(&size, "page-size", 50, "events per page")
	list.Flags().StringVar(&token, "page-token", "", "the page to show")
	cmd.AddCommand(list)
	return cmd
}

// printAuditEvents is the human form of a page of audit events.
func printAuditEvents(w io.Writer, res *callverifyv1.ListAuditEventsResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tROLE\tACTION\tTARGET\tAFTER")
	for _, e := range res.GetEvents() {
		after := ""
		if e.GetAfter() != nil {
			b, _ := stableJSON(e.GetAfter(), "")
			after = string(b)
			if len(after) > 80 {
				after = after[:77] + "..."
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.GetTime().AsTime().Local().Format(time.DateTime),
			e.GetActor(), e.GetRole(), e.GetAction(), e.GetTarget(), after)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.GetNextPageToken() != "" {
		return printf(w, "next page: --page-token %s\n", res.GetNextPageToken())
	}
	return nil
}
