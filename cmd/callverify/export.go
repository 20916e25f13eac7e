package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// exportWriter writes entries as CSV or NDJSON.
type exportWriter interface {
	write(*callverifyv1.Entry) error
	flush() error
}

type ndjsonExport struct {
	w   *bufio.Writer
	buf []byte
}

func (n *ndjsonExport) write(e *callverifyv1.Entry) error {
	b, err := appendEntryJSON(n.buf[:0], e)
	if err != nil {
		return err
	}
	n.buf = append(b, '\n')
	_, err = n.w.Write(n.buf)
	return err
}

func (n *ndjsonExport) flush() error { return n.w.Flush() }

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
				if cl.json {
					format = "ndjson" // --json: one entry a line, as protojson
				}
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
			var w exportWriter = &ndjsonExport{w: bw}
			if format == "csv" {
				cw := csv.NewWriter(bw)
				if err := cw.Write(csvColumns()); err != nil {
					return err
				}
				w = csvExport{cw}
			}

			return withConn(cl, cmd, streaming, func(ctx context.Context, cc *grpc.ClientConn) error {
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
			})
		},
	}
	c.Flags().StringVar(&format, "format", "", "csv or ndjson (default: from -o's extension, else ndjson with --json, else csv)")
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
