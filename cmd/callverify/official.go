package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

func (cl *cli) newOfficialCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "official", Short: "Official numbers of the platform (role admin)"}

	var name, direction, desc string
	create := &cobra.Command{
		Use:   "create NUMBER",
		Short: "Register an official number",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, ok := callverifyv1.Direction_value["DIRECTION_"+strings.ToUpper(direction)]
			if !ok || d == 0 {
				return fmt.Errorf("--direction: %q is not outbound, inbound_only or both", direction)
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.OfficialNumber, error) {
				return callverifyv1.NewAdminServiceClient(cc).CreateOfficialNumber(ctx, &callverifyv1.CreateOfficialNumberRequest{
					OfficialNumber: &callverifyv1.OfficialNumber{Number: args[0], DisplayName: name, Direction: callverifyv1.Direction(d), Description: desc},
				})
			}, func(w io.Writer, o *callverifyv1.OfficialNumber) error {
				return printf(w, "registered %s (%s, %s)\n", o.GetNumber(), o.GetDisplayName(), directionName(o.GetDirection()))
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name shown to customers")
	create.Flags().StringVar(&direction, "direction", "outbound", "outbound, inbound_only or both")
	create.Flags().StringVar(&desc, "description", "", "what the number is for")
	_ = create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List official numbers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListOfficialNumbersResponse, error) {
				c := callverifyv1.NewAdminServiceClient(cc)
				all := &callverifyv1.ListOfficialNumbersResponse{}
				for tok := ""; ; {
					page, err := c.ListOfficialNumbers(ctx, &callverifyv1.ListOfficialNumbersRequest{PageSize: 1000, PageToken: tok})
					if err != nil {
						return nil, err
					}
					all.OfficialNumbers = append(all.OfficialNumbers, page.GetOfficialNumbers()...)
					if tok = page.GetNextPageToken(); tok == "" {
						return all, nil
					}
				}
			}, func(w io.Writer, all *callverifyv1.ListOfficialNumbersResponse) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NUMBER\tDIRECTION\tNAME")
				for _, o := range all.GetOfficialNumbers() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", o.GetNumber(), directionName(o.GetDirection()), o.GetDisplayName())
				}
				return tw.Flush()
			})
		},
	}

	del := &cobra.Command{
		Use:   "delete NUMBER",
		Short: "Remove an official number; its live calls end with it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.DeleteOfficialNumberRequest, error) {
				req := &callverifyv1.DeleteOfficialNumberRequest{Number: args[0]}
				_, err := callverifyv1.NewAdminServiceClient(cc).DeleteOfficialNumber(ctx, req)
				return req, err
			}, func(w io.Writer, r *callverifyv1.DeleteOfficialNumberRequest) error {
				return printf(w, "deleted %s (its live calls ended)\n", r.GetNumber())
			})
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func directionName(d callverifyv1.Direction) string {
	return strings.ToLower(strings.TrimPrefix(d.String(), "DIRECTION_"))
}
