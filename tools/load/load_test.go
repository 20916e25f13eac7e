package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary be the baseline process too, as the
// harness's own binary is: the harness starts os.Executable() baseline.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == baselineCmd {
		if err := runBaseline(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "load baseline:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHarnessFillsEveryRow runs the whole harness for a moment on the
// embedded store with a tiny blocklist, and checks that the table it
// prints and writes has every row of issue 16 filled, and a row per hot
// RPC and concurrency. It says nothing about speed.
func TestHarnessFillsEveryRow(t *testing.T) {
	// No deadline of its own: on a fresh clone the harness's builds share
	// the cores with every other package's, and go test's -timeout ends a
	// run that hangs.
	ctx := t.Context()
	md := filepath.Join(t.TempDir(), "performance.md")
	const kept = "# Performance\n\nWritten by hand, kept.\n"
	if err := os.WriteFile(md, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	// The match row runs a cheap benchmark of the blocklist package: the
	// 10M-entry one builds its index for seconds, and this test checks the
	// plumbing, not the figure. The import benchmark takes its size from
	// the environment: a few thousand rows, once.
	t.Setenv("CALLVERIFY_BENCH_IMPORT_ROWS", "2000")
	err := realMain(ctx, []string{"-repo", "../..", "-backends", "bolt", "-duration", "100ms", "-reps", "1", "-c", "4",
		"-rows", "300", "-blocklist", "200", "-match-bench", "^BenchmarkImport$", "-match-benchtime", "1x",
		"-md", md}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	out := stdout.String()

	figures := []string{
		"StampCall throughput / p99 (c=4)",
		"CheckCaller, 200-entry blocklist (c=4): VERIFIED / KNOWN_FRAUD",
		"VerifyToken (c=4)",
		"REST / gRPC, CheckCaller VERIFIED (c=4)",
		"bulk import, 300 rows: CLI / REST",
		"export, 300 rows (CLI)",
		"blocklist match at 10M (Go benchmark, in-process)",
		"store on disk, 200 entries",
		"VmRSS after a restart at 200",
		"ready after a restart at 200",
	}
	for _, f := range figures {
		line := tableLine(t, out, "| "+f+" |")
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if got, want := len(cells), 3; got != want {
			t.Fatalf("row %q has %d cells, want %d (figure, embedded, target): %s", f, got, want, line)
		}
		v := strings.TrimSpace(cells[1])
		if v == "" || strings.Contains(v, "—") || strings.Contains(v, "not run") || strings.Contains(v, "NaN") {
			t.Errorf("row %q is not filled: %q", f, v)
		}
		if !strings.HasSuffix(v, "✓") && !strings.HasSuffix(v, "✗") {
			t.Errorf("row %q does not say whether its target is met: %q", f, v)
		}
	}
	for _, rpc := range []string{"health", "CheckCaller VERIFIED", "CheckCaller KNOWN_FRAUD", "VerifyToken",
		"GetConfirmationCode", "LookupNumber (anonymous)", "StampCall"} {
		for _, c := range []string{"4"} {
			line := tableLine(t, out, "| "+rpc+" | "+c+" |")
			if !strings.HasSuffix(line, "| 0 |") || strings.Contains(line, "| 0.000x |") {
				t.Errorf("%s c=%s: failed requests, or none answered: %s", rpc, c, line)
			}
		}
	}
	if line := tableLine(t, out, "| CheckCaller VERIFIED (REST) | 4 |"); !strings.HasSuffix(line, "| 0 |") {
		t.Errorf("REST CheckCaller failed requests: %s", line)
	}
	for _, s := range []string{"Machine: ", "Command: `load -repo ../.. -backends bolt", "Commit "} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}

	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), kept) {
		t.Errorf("%s lost its hand-written text:\n%.300s", md, b)
	}
	if !strings.Contains(string(b), markBegin) || !strings.Contains(string(b), "| StampCall throughput / p99 (c=4) |") {
		t.Errorf("%s lacks the table:\n%s", md, b)
	}
}

// tableLine is the one line of out that starts with prefix.
func tableLine(t *testing.T, out, prefix string) string {
	t.Helper()
	var found []string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one line starting %q, found %d in:\n%s", prefix, len(found), out)
	}
	return found[0]
}

// TestWriteMarkdownReplacesOnlyItsSection: a second run replaces the table
// between the markers and keeps what is before and after them.
func TestWriteMarkdownReplacesOnlyItsSection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "p.md")
	if err := os.WriteFile(path, []byte("# Title\n\nintro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(path, "table one\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	b = append(b, "\n## Limits\n\nhand-written\n"...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(path, "table two\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Title\n\nintro\n\n" + markBegin + "\ntable two\n" + markEnd + "\n\n## Limits\n\nhand-written\n"
	if string(got) != want {
		t.Errorf("file is\n%q\nwant\n%q", got, want)
	}
}
