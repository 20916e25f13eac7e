package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/ndjson"
)

func (cl *cli) newBlocklistCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "blocklist", Short: "Blocked numbers and prefixes (role analyst)"}
	cmd.AddCommand(cl.newBlocklistAddCmd(), cl.newBlocklistGetCmd(), cl.newBlocklistListCmd(), cl.newBlocklistUpdateCmd(),
		cl.newBlocklistDeleteCmd(), cl.newBlocklistCheckCmd(), cl.newBlocklistImportCmd(), cl.newBlocklistExportCmd())
	return cmd
}

// enumValue accepts a proto enum name with or without its prefix, in any
// case: "scam", "CATEGORY_SCAM".
func enumValue(values map[string]int32, prefix, flag, s string) (int32, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(u, prefix) {
		u = prefix + u
	}
	v, ok := values[u]
	if !ok || v == 0 {
		var names []string
		for n, v := range values {
			if v != 0 {
				names = append(names, strings.ToLower(strings.TrimPrefix(n, prefix)))
			}
		}
		slices.Sort(names)
		return 0, fmt.Errorf("%s: %q is not one of %s", flag, s, strings.Join(names, ", "))
	}
	return v, nil
}

func category(flag, s string) (callverifyv1.Category, error) {
	v, err := enumValue(callverifyv1.Category_value, "CATEGORY_", flag, s)
	return callverifyv1.Category(v), err
}

func source(flag, s string) (callverifyv1.Source, error) {
	v, err := enumValue(callverifyv1.Source_value, "SOURCE_", flag, s)
	return callverifyv1.Source(v), err
}

func short(name, prefix string) string { return strings.ToLower(strings.TrimPrefix(name, prefix)) }

// parseExpiry takes an RFC 3339 time or a duration from now ("720h").
func parseExpiry(s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return timestamppb.New(time.Now().Add(d)), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("expire time %q is neither RFC 3339 (2027-01-31T00:00:00Z) nor a duration (720h)", s)
	}
	return timestamppb.New(t), nil
}

func printEntries(cmd *cobra.Command, entries []*callverifyv1.Entry) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPATTERN\tCATEGORY\tSOURCE\tCONF\tEXPIRES\tREASON")
	for _, e := range entries {
		exp := "-"
		if e.GetExpireTime() != nil {
			exp = e.GetExpireTime().AsTime().Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.GetEntryId(), e.GetPattern(),
			short(e.GetCategory().String(), "CATEGORY_"), short(e.GetSource().String(), "SOURCE_"),
			e.GetConfidence(), exp, e.GetReason())
	}
	return tw.Flush()
}

func (cl *cli) printEntry(cmd *cobra.Command, e *callverifyv1.Entry) error {
	if cl.json {
		return printJSON(cmd.OutOrStdout(), e)
	}
	return printEntries(cmd, []*callverifyv1.Entry{e})
}

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

// rowSource reads import rows from a file, one Entry at a time, with the
// file line each came from.
type rowSource interface {
	// next returns the next row and its line; io.EOF at the end. A row
	// that cannot be read is a *rowError, and reading may go on.
	next() (*callverifyv1.Entry, int, error)
}

type rowError struct {
	line int
	msg  string
}

func (e *rowError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// ndjsonRows sends every line as it is: the server reads it, exactly as it
// reads a line posted to REST, so both give the same answer for one file.
type ndjsonRows struct {
	l *ndjson.Lines
}

func newNDJSONRows(r io.Reader) *ndjsonRows { return &ndjsonRows{l: ndjson.NewLines(r)} }

func (n *ndjsonRows) next() (*callverifyv1.Entry, int, error) {
	line, text, tooLong, err := n.l.Next()
	if err != nil {
		return nil, int(line), err
	}
	if tooLong {
		return nil, int(line), &rowError{int(line), ndjson.TooLong}
	}
	return &callverifyv1.Entry{ImportRow: &callverifyv1.ImportRow{Json: string(text)}}, int(line), nil
}

func formatOf(flag, path string) (string, error) {
	if flag != "" {
		f := strings.ToLower(flag)
		if f != "csv" && f != "ndjson" {
			return "", fmt.Errorf("--format: %q is not csv or ndjson", flag)
		}
		return f, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".ndjson", ".jsonl", ".json":
		return "ndjson", nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension: use --format csv or --format ndjson", path)
}

// showProgress is whether to draw bars: on a terminal, unless told not to.
func showProgress(noProgress bool) bool {
	return !noProgress && term.IsTerminal(int(os.Stderr.Fd()))
}

func (cl *cli) newBlocklistImportCmd() *cobra.Command {
	var format string
	var noProgress bool
	var maxErrors int
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Import entries from CSV (header pattern,category,reason,confidence,expire_time) or NDJSON",
		Long: `Import streams the file to the server, which commits it in batches. Entries are
matched on pattern, so importing the same file again updates rather than
duplicates. Rows that cannot be imported are listed with their line and why;
the others are imported.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmtName, err := formatOf(format, args[0])
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			var bar *progressbar.ProgressBar
			var in io.Reader = bufio.NewReaderSize(f, 256<<10)
			if showProgress(noProgress) {
				bar = progressbar.NewOptions64(st.Size(),
					progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription("importing"),
					progressbar.OptionShowBytes(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionShowElapsedTimeOnFinish(),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionSetWidth(30),
				)
				r := progressbar.NewReader(f, bar)
				in = bufio.NewReaderSize(&r, 256<<10)
			}
			var rows rowSource
			if fmtName == "csv" {
				if rows, err = newCSVRows(in); err != nil {
					return err
				}
			} else {
				rows = newNDJSONRows(in)
			}

			cc, ctx, done, err := cl.dialStream(cmd)
			if err != nil {
				return err
			}
			defer done()
			stream, err := callverifyv1.NewBlocklistServiceClient(cc).ImportEntries(ctx)
			if err != nil {
				return err
			}
			start := time.Now()
			// Every row goes to the server, which judges and counts it: a
			// row the CLI cannot read is sent with why, so that the CLI and
			// REST report the same counts for the same file.
			var lines []int32 // file line of each row sent, to say where an interrupted import stopped
			for {
				e, line, err := rows.next()
				if errors.Is(err, io.EOF) {
					break
				}
				var re *rowError
				switch {
				case errors.As(err, &re):
					e = &callverifyv1.Entry{ImportRow: &callverifyv1.ImportRow{Error: re.msg}}
				case err != nil:
					stream.CloseSend()
					return fmt.Errorf("read %s: %w", args[0], err)
				}
				if e.ImportRow == nil {
					e.ImportRow = &callverifyv1.ImportRow{}
				}
				e.ImportRow.Line = int64(line)
				if err := stream.Send(e); err != nil {
					if errors.Is(err, io.EOF) {
						break // the server ended the stream; CloseAndRecv says why
					}
					return err
				}
				lines = append(lines, int32(line))
				if bar != nil && len(lines)%2000 == 0 {
					bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", len(lines), float64(len(lines))/time.Since(start).Seconds()))
				}
			}
			res, err := stream.CloseAndRecv()
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return err
			}
			took := time.Since(start)
			if cl.json {
				if err := printJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
				return interruptedErr(res, lines)
			}
			out := cmd.OutOrStdout()
			taken := res.GetImported() + res.GetUpdated() + res.GetRejected()
			fmt.Fprintf(out, "%d rows in %s (%.0f rows/s): %d imported, %d updated, %d rejected\n",
				taken, took.Round(time.Millisecond), float64(taken)/took.Seconds(),
				res.GetImported(), res.GetUpdated(), res.GetRejected())
			errs := slices.Clone(res.GetErrors())
			slices.SortStableFunc(errs, func(a, b *callverifyv1.ImportError) int { return int(a.GetLine() - b.GetLine()) })
			shown := min(len(errs), maxErrors)
			for _, se := range errs[:shown] {
				fmt.Fprintf(out, "  line %d: %s\n", se.GetLine(), se.GetMessage())
			}
			if res.GetRejected() > int64(shown) {
				fmt.Fprintf(out, "  ... and %d more rejected rows\n", res.GetRejected()-int64(shown))
			}
			return interruptedErr(res, lines)
		},
	}
	c.Flags().StringVar(&format, "format", "", "csv or ndjson (default: from the file extension)")
	c.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar")
	c.Flags().IntVar(&maxErrors, "max-errors", 20, "how many rejected rows to list")
	return c
}

// interruptedErr says where an import the server cut short (it was
// shutting down) stopped, so that the exit status tells scripts.
func interruptedErr(res *callverifyv1.ImportEntriesResponse, lines []int32) error {
	if !res.GetInterrupted() {
		return nil
	}
	taken := res.GetImported() + res.GetUpdated() + res.GetRejected()
	where := "before the first row"
	if taken > 0 && taken <= int64(len(lines)) {
		where = fmt.Sprintf("after line %d", lines[taken-1])
	}
	return fmt.Errorf("the server stopped taking rows %s (it is shutting down); the rows above were committed. "+
		"Import the file again to finish: rows already imported count as updated", where)
}

// exportWriter writes entries as CSV or NDJSON.
type exportWriter interface {
	write(*callverifyv1.Entry) error
	flush() error
}

type ndjsonExport struct{ w *bufio.Writer }

func (n ndjsonExport) write(e *callverifyv1.Entry) error {
	b, err := protojson.Marshal(e)
	if err != nil {
		return err
	}
	n.w.Write(b)
	return n.w.WriteByte('\n')
}

func (n ndjsonExport) flush() error { return n.w.Flush() }

func (cl *cli) newBlocklistExportCmd() *cobra.Command {
	var format, output, cat, src string
	var noProgress bool
	c := &cobra.Command{
		Use:   "export [--format csv|ndjson] [-o FILE]",
		Short: "Export every entry (to stdout unless -o); the CSV imports back as it is",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "" {
				format = "csv"
				if output != "" && output != "-" {
					if f, err := formatOf("", output); err == nil {
						format = f
					}
				}
			}
			format, err := formatOf(format, "")
			if err != nil {
				return err
			}
			req := &callverifyv1.ExportEntriesRequest{}
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
			var out io.Writer = cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			bw := bufio.NewWriterSize(out, 256<<10)
			var w exportWriter = ndjsonExport{bw}
			if format == "csv" {
				cw := csv.NewWriter(bw)
				if err := cw.Write(csvColumns); err != nil {
					return err
				}
				w = csvExport{cw}
			}

			cc, ctx, done, err := cl.dialStream(cmd)
			if err != nil {
				return err
			}
			defer done()
			client := callverifyv1.NewBlocklistServiceClient(cc)
			var bar *progressbar.ProgressBar
			if showProgress(noProgress) {
				total := int64(-1) // a spinner when the count is unknown
				if res, err := client.ListEntries(ctx, &callverifyv1.ListEntriesRequest{PageSize: 1, Category: req.Category, Source: req.Source}); err == nil {
					total = int64(res.GetTotalSize())
				}
				bar = progressbar.NewOptions64(total,
					progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription("exporting"),
					progressbar.OptionShowCount(),
					progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("rows"),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionSetWidth(30),
				)
			}
			stream, err := client.ExportEntries(ctx, req)
			if err != nil {
				return err
			}
			n, err := drainExport(stream, w, bar)
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return err
			}
			if err := w.flush(); err != nil {
				return err
			}
			if output != "" && output != "-" {
				fmt.Fprintf(os.Stderr, "exported %d entries to %s\n", n, output)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "csv or ndjson (default: from -o's extension, else csv)")
	c.Flags().StringVarP(&output, "output", "o", "", "file to write (default stdout)")
	c.Flags().StringVar(&cat, "category", "", "only this category")
	c.Flags().StringVar(&src, "source", "", "only this source")
	c.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar")
	return c
}

func drainExport(stream grpc.ServerStreamingClient[callverifyv1.Entry], w exportWriter, bar *progressbar.ProgressBar) (int, error) {
	n := 0
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := w.write(e); err != nil {
			return n, err
		}
		n++
		if bar != nil && n%500 == 0 {
			_ = bar.Add(500)
		}
	}
}

func (cl *cli) newReportsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "reports", Short: "Numbers customers reported (role analyst)"}
	var size int32
	var token string
	list := &cobra.Command{
		Use:   "list",
		Short: "List reported numbers, open ones and the busiest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := callverifyv1.NewBlocklistServiceClient(cc).ListReportedNumbers(ctx, &callverifyv1.ListReportedNumbersRequest{PageSize: size, PageToken: token})
			if err != nil {
				return err
			}
			if cl.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
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
				fmt.Fprintf(cmd.OutOrStdout(), "next page: --page-token %s\n", res.GetNextPageToken())
			}
			return nil
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
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := callverifyv1.NewBlocklistServiceClient(cc).ResolveReportedNumber(ctx, req)
			if err != nil {
				return err
			}
			if cl.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			r := res.GetReportedNumber()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%d reports by %d customers)\n", r.GetCallerNumber(),
				short(r.GetStatus().String(), "REPORT_STATUS_"), r.GetReportCount(), r.GetDistinctReporters())
			if res.GetEntry() != nil {
				return printEntries(cmd, []*callverifyv1.Entry{res.GetEntry()})
			}
			return nil
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

func (cl *cli) newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The audit log of analysts' and admins' actions (role analyst)"}
	var actorF, action, token string
	var size int32
	list := &cobra.Command{
		Use:   "list [--actor SUB] [--action ACTION]",
		Short: "List audit events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, ctx, done, err := cl.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := callverifyv1.NewBlocklistServiceClient(cc).ListAuditEvents(ctx, &callverifyv1.ListAuditEventsRequest{
				Actor: actorF, Action: action, PageSize: size, PageToken: token,
			})
			if err != nil {
				return err
			}
			if cl.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTOR\tROLE\tACTION\tTARGET\tAFTER")
			for _, e := range res.GetEvents() {
				after := ""
				if e.GetAfter() != nil {
					b, _ := protojson.Marshal(e.GetAfter())
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
				fmt.Fprintf(cmd.OutOrStdout(), "next page: --page-token %s\n", res.GetNextPageToken())
			}
			return nil
		},
	}
	list.Flags().StringVar(&actorF, "actor", "", "only this actor (token subject)")
	list.Flags().StringVar(&action, "action", "", "only this action, e.g. entry.create, entry.import, reported_number.block")
	list.Flags().Int32Var(&size, "page-size", 50, "events per page")
	list.Flags().StringVar(&token, "page-token", "", "the page to show")
	cmd.AddCommand(list)
	return cmd
}
