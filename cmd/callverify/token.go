package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/callverify/callverify/internal/auth"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Bearer tokens for local use"}
	var dataDir, role, sub, phoneNumber string
	var ttl time.Duration
	mint := &cobra.Command{
		Use:   "mint",
		Short: "Print a bearer token accepted by a callverifyd started with --dev on the same data directory",
		Long: "Mint signs a token with the development issuer's secret in the data directory " +
			"(created on first use by callverifyd --dev or by this command). It prints the token and nothing else on stdout. " +
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
	cmd.AddCommand(mint)
	return cmd
}
