package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

func (cl *cli) newBlocklistAddCmd() *cobra.Command {
	var cat, reason, expire string
	var confidence int32
	c := &cobra.Command{
		Use:   "add PATTERN --category CATEGORY",
		Short: "Block a number (any written form) or a prefix such as +86170*",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cv, err := category("--category", cat)
			if err != nil {
				return err
			}
			exp, err := parseExpiry(expire)
			if err != nil {
				return err
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Entry, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).CreateEntry(ctx, &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
					Pattern: args[0], Category: cv, Reason: reason, Confidence: confidence, ExpireTime: exp,
				}})
			}, printEntry)
		},
	}
	c.Flags().StringVar(&cat, "category", "", "impersonation, scam, spam, robocall or other")
	c.Flags().StringVar(&reason, "reason", "", "why (<= 500 characters)")
	c.Flags().Int32Var(&confidence, "confidence", 80, "0-100")
	c.Flags().StringVar(&expire, "expire", "", "when the entry stops matching: RFC 3339 time or a duration such as 720h")
	_ = c.MarkFlagRequired("category")
	return c
}

func (cl *cli) newBlocklistGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ENTRY_ID",
		Short: "Show one entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Entry, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).GetEntry(ctx, &callverifyv1.GetEntryRequest{EntryId: args[0]})
			}, printEntry)
		},
	}
}

func (cl *cli) newBlocklistListCmd() *cobra.Command {
	var cat, src, token string
	var size int32
	c := &cobra.Command{
		Use:   "list",
		Short: "List entries in pattern order, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &callverifyv1.ListEntriesRequest{PageSize: size, PageToken: token}
			var err error
			if cat != "" {
				if req.Category, err = category("--category", cat); err != nil {
					return err
				}
			}
			if src != "" {
				if req.Source, err = source("--source", src); err != nil {
					return err
				}
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListEntriesResponse, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).ListEntries(ctx, req)
			}, func(w io.Writer, res *callverifyv1.ListEntriesResponse) error {
				if err := printEntries(w, res.GetEntries()); err != nil {
					return err
				}
				fmt.Fprintf(w, "%d of %d entries", len(res.GetEntries()), res.GetTotalSize())
				if res.GetNextPageToken() != "" {
					fmt.Fprintf(w, "; next page: --page-token %s", res.GetNextPageToken())
				}
				_, err := fmt.Fprintln(w)
				return err
			})
		},
	}
	c.Flags().StringVar(&cat, "category", "", "only this category")
	c.Flags().StringVar(&src, "source", "", "only this source: analyst, customer_reports or import")
	c.Flags().Int32Var(&size, "page-size", 50, "entries per page (at most 1000)")
	c.Flags().StringVar(&token, "page-token", "", "the page to show, from the previous page")
	return c
}

func (cl *cli) newBlocklistUpdateCmd() *cobra.Command {
	var pattern, cat, reason, src, expire string
	var confidence int32
	var noExpire bool
	c := &cobra.Command{
		Use:   "update ENTRY_ID [--pattern P] [--category C] [--reason R] [--confidence N] [--expire T | --no-expire]",
		Short: "Change the given fields of an entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := &callverifyv1.Entry{EntryId: args[0]}
			var paths []string
			f := cmd.Flags()
			var err error
			if f.Changed("pattern") {
				e.Pattern, paths = pattern, append(paths, "pattern")
			}
			if f.Changed("category") {
				if e.Category, err = category("--category", cat); err != nil {
					return err
				}
				paths = append(paths, "category")
			}
			if f.Changed("source") {
				if e.Source, err = source("--source", src); err != nil {
					return err
				}
				paths = append(paths, "source")
			}
			if f.Changed("reason") {
				e.Reason, paths = reason, append(paths, "reason")
			}
			if f.Changed("confidence") {
				e.Confidence, paths = confidence, append(paths, "confidence")
			}
			if f.Changed("expire") || noExpire {
				if e.ExpireTime, err = parseExpiry(expire); err != nil {
					return err
				}
				paths = append(paths, "expire_time")
			}
			if len(paths) == 0 {
				return errors.New("nothing to change: give at least one of --pattern, --category, --source, --reason, --confidence, --expire, --no-expire")
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Entry, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).UpdateEntry(ctx, &callverifyv1.UpdateEntryRequest{
					Entry: e, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
				})
			}, printEntry)
		},
	}
	c.Flags().StringVar(&pattern, "pattern", "", "new pattern")
	c.Flags().StringVar(&cat, "category", "", "new category")
	c.Flags().StringVar(&src, "source", "", "new source")
	c.Flags().StringVar(&reason, "reason", "", "new reason")
	c.Flags().Int32Var(&confidence, "confidence", 0, "new confidence")
	c.Flags().StringVar(&expire, "expire", "", "new expiry: RFC 3339 time or a duration such as 720h")
	c.Flags().BoolVar(&noExpire, "no-expire", false, "remove the expiry")
	c.MarkFlagsMutuallyExclusive("expire", "no-expire")
	return c
}

func (cl *cli) newBlocklistDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ENTRY_ID",
		Short: "Remove an entry; its pattern stops matching at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.DeleteEntryRequest, error) {
				req := &callverifyv1.DeleteEntryRequest{EntryId: args[0]}
				_, err := callverifyv1.NewBlocklistServiceClient(cc).DeleteEntry(ctx, req)
				return req, err
			}, func(w io.Writer, r *callverifyv1.DeleteEntryRequest) error {
				return printf(w, "deleted %s\n", r.GetEntryId())
			})
		},
	}
}

func (cl *cli) newBlocklistCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check NUMBER",
		Short: "Say whether the blocklist matches a number (longest match wins)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.CheckNumberResponse, error) {
				return callverifyv1.NewBlocklistServiceClient(cc).CheckNumber(ctx, &callverifyv1.CheckNumberRequest{Number: args[0]})
			}, func(w io.Writer, res *callverifyv1.CheckNumberResponse) error {
				if !res.GetBlocked() {
					return printf(w, "%s is not blocked\n", res.GetNumber())
				}
				fmt.Fprintf(w, "%s is BLOCKED by %s\n", res.GetNumber(), res.GetEntry().GetPattern())
				return printEntries(w, []*callverifyv1.Entry{res.GetEntry()})
			})
		},
	}
}
