package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"

	"github.com/callverify/callverify/internal/auth"
)

func (cl *cli) newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Bearer tokens for local use"}
	var dataDir, role, sub, phoneNumber string
	var ttl time.Duration
	mint := &cobra.Command{
		Use:   "mint",
		Short: "Print a bearer token accepted by a callverifyd started with --dev on the same data directory",
		Long: "Mint signs a token with the development issuer's secret in the data directory " +
			"(created on first use by callverifyd --dev or by this command). It prints the token and nothing else on stdout (with --json, {\"token\": ...}). " +
			"A server started without --dev does not accept it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			path, err := auth.EnsureDevSecret(dataDir)
			if err != nil {
				return err
			}
			secret, err := auth.LoadHMACSecret(path)
			if err != nil {
				return err
			}
			tok, err := auth.Mint(secret, auth.MintOptions{Subject: sub, Role: r, PhoneNumber: phoneNumber, TTL: ttl})
			if err != nil {
				return err
			}
			if cl.json {
				return printJSON(cmd.OutOrStdout(), &structpb.Struct{Fields: map[string]*structpb.Value{"token": structpb.NewStringValue(tok)}})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	defDir := os.Getenv("CALLVERIFY_DATA_DIR")
	if defDir == "" {
		defDir = filepath.Join(".", "data")
	}
	mint.Flags().StringVar(&dataDir, "data-dir", defDir, "data directory of the server (env CALLVERIFY_DATA_DIR)")
	mint.Flags().StringVar(&role, "role", "", "customer, dialer, analyst or admin")
	mint.Flags().StringVar(&sub, "sub", "", "principal id (sub claim)")
	mint.Flags().StringVar(&phoneNumber, "phone", "", "the customer's phone number (phone_number claim; customers only)")
	mint.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid (the server also refuses tokens older than its --auth-max-token-age, 24h by default)")
	_ = mint.MarkFlagRequired("role")
	_ = mint.MarkFlagRequired("sub")
	cmd.AddCommand(mint, cl.newTokenVerifyCmd())
	return cmd
}

// newTokenVerifyCmd checks a signed call token (any role).
func (cl *cli) newTokenVerifyCmd() *cobra.Command {
	var req callverifyv1.VerifyTokenRequest
	cmd := &cobra.Command{
		Use:   "verify TOKEN [--caller NUMBER] [--callee NUMBER]",
		Short: "Check a signed call token: its signature, claims and the call's state now (any role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Token = args[0]
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.VerifyTokenResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).VerifyToken(ctx, &req)
			}, func(w io.Writer, r *callverifyv1.VerifyTokenResponse) error {
				if !r.GetValid() {
					return printf(w, "not valid: %s\n", strings.ToLower(strings.TrimPrefix(r.GetFailure().String(), "TOKEN_FAILURE_")))
				}
				return printf(w, "valid: call %s is %s\n", r.GetCallId(), stateName(r.GetCallState()))
			})
		},
	}
	cmd.Flags().StringVar(&req.CallerNumber, "caller", "", "the number that is calling, checked against the token")
	cmd.Flags().StringVar(&req.CalleeNumber, "callee", "", "the number being called, checked against the token")
	return cmd
}
