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

// newKeysCmd manages the keys that sign call tokens (role admin).
func (cl *cli) newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Keys that sign call tokens (role admin)"}
	ls := &cobra.Command{
		Use: "ls", Short: "List the signing keys: the current one and the retired ones still published", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListSigningKeysResponse, error) {
				return callverifyv1.NewAdminServiceClient(cc).ListSigningKeys(ctx, &callverifyv1.ListSigningKeysRequest{})
			}, func(w io.Writer, r *callverifyv1.ListSigningKeysResponse) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tPUBLISHED UNTIL")
				for _, k := range r.GetSigningKeys() {
					until := "-"
					if k.GetPublishUntil() != nil {
						until = k.GetPublishUntil().AsTime().Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.GetKid(), k.GetAlgorithm(),
						strings.ToLower(strings.TrimPrefix(k.GetState().String(), "SIGNING_KEY_STATE_")),
						k.GetCreateTime().AsTime().Local().Format(time.DateTime), until)
				}
				return tw.Flush()
			})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new key current; the old one stays published while tokens it signed may be live",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.SigningKey, error) {
				return callverifyv1.NewAdminServiceClient(cc).RotateSigningKey(ctx, &callverifyv1.RotateSigningKeyRequest{})
			}, func(w io.Writer, k *callverifyv1.SigningKey) error {
				return printf(w, "current key %s (%s)\n", k.GetKid(), k.GetAlgorithm())
			})
		},
	}
	cmd.AddCommand(ls, rotate)
	return cmd
}
