package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
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

func printEntries(w io.Writer, entries []*callverifyv1.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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

// printEntry is the human form of one entry.
func printEntry(w io.Writer, e *callverifyv1.Entry) error {
	return printEntries(w, []*callverifyv1.Entry{e})
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
