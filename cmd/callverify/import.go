package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/ndjson"
)

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

			return withConn(cl, cmd, streaming, func(ctx context.Context, cc *grpc.ClientConn) error {
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
			})
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
