package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
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
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			e, err := callverifyv1.NewBlocklistServiceClient(cc).CreateEntry(ctx, &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
				Pattern: args[0], Category: cv, Reason: reason, Confidence: confidence, ExpireTime: exp,
			}})
			if err != nil {
				return err
			}
			return cl.printEntry(cmd, e)
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
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			e, err := callverifyv1.NewBlocklistServiceClient(cc).GetEntry(ctx, &callverifyv1.GetEntryRequest{EntryId: args[0]})
			if err != nil {
				return err
			}
			return cl.printEntry(cmd, e)
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
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := callverifyv1.NewBlocklistServiceClient(cc).ListEntries(ctx, req)
			if err != nil {
				return err
			}
			if cl.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			if err := printEntries(cmd, res.GetEntries()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d entries", len(res.GetEntries()), res.GetTotalSize())
			if res.GetNextPageToken() != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "; next page: --page-token %s", res.GetNextPageToken())
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
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
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			out, err := callverifyv1.NewBlocklistServiceClient(cc).UpdateEntry(ctx, &callverifyv1.UpdateEntryRequest{
				Entry: e, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
			})
			if err != nil {
				return err
			}
			return cl.printEntry(cmd, out)
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
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			if _, err := callverifyv1.NewBlocklistServiceClient(cc).DeleteEntry(ctx, &callverifyv1.DeleteEntryRequest{EntryId: args[0]}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return err
		},
	}
}

func (cl *cli) newBlocklistCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check NUMBER",
		Short: "Say whether the blocklist matches a number (longest match wins)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := callverifyv1.NewBlocklistServiceClient(cc).CheckNumber(ctx, &callverifyv1.CheckNumberRequest{Number: args[0]})
			if err != nil {
				return err
			}
			if cl.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			if !res.GetBlocked() {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s is not blocked\n", res.GetNumber())
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is BLOCKED by %s\n", res.GetNumber(), res.GetEntry().GetPattern())
			return printEntries(cmd, []*callverifyv1.Entry{res.GetEntry()})
		},
	}
}
