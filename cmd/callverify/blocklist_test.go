package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// run runs the CLI against env with token and returns what it printed.
func run(t *testing.T, env *testenv.Env, token string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--server", env.GRPCAddr, "--token", token}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestBlocklistImportExportRoundTrip(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("pattern,category,reason,confidence,expire_time\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "+86170%08d,scam,row %d,%d,\n", i, i, i%101)
	}
	b.WriteString("+86*,scam,too short,50,\n")                      // line 1502: server rejects
	b.WriteString("+8613800138000,nope,bad category,50,\n")         // line 1503: CLI rejects
	b.WriteString("+8613800138001,spam,,50,2030-01-01T00:00:00Z\n") // line 1504
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	an := env.Analyst()
	out, err := run(t, env, an, "blocklist", "import", csvPath)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, want := range []string{"1503 rows", "1501 imported, 0 updated, 2 rejected", "line 1502: pattern prefix", "line 1503: category"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "line 1502"), strings.Index(out, "line 1503"); i < 0 || j < i {
		t.Errorf("rejected rows are not in line order:\n%s", out)
	}

	exported := filepath.Join(dir, "out.csv")
	if out, err := run(t, env, an, "blocklist", "export", "-o", exported); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1502 || !strings.HasPrefix(lines[0], "pattern,category,reason,confidence,expire_time") {
		t.Fatalf("export has %d lines (want header + 1501), first %q", len(lines), lines[0])
	}
	// What export writes imports back as it is.
	out, err = run(t, env, an, "blocklist", "import", exported)
	if err != nil || !strings.Contains(out, "0 imported, 1501 updated, 0 rejected") {
		t.Errorf("re-import of the export: %v\n%s", err, out)
	}
	nd := filepath.Join(dir, "spam.ndjson")
	if out, err := run(t, env, an, "blocklist", "export", "--category", "spam", "-o", nd); err != nil {
		t.Fatalf("export ndjson: %v\n%s", err, out)
	}
	data, _ = os.ReadFile(nd)
	if got := strings.Count(string(data), "\n"); got != 1 || !strings.Contains(string(data), `"pattern":"+8613800138001"`) {
		t.Errorf("NDJSON export of spam = %s", data)
	}
	out, err = run(t, env, an, "blocklist", "import", nd)
	if err != nil || !strings.Contains(out, "0 imported, 1 updated, 0 rejected") {
		t.Errorf("NDJSON re-import: %v\n%s", err, out)
	}

	if out, err := run(t, env, an, "blocklist", "check", "170 0000 0042"); err != nil || !strings.Contains(out, "BLOCKED by +8617000000042") {
		t.Errorf("check: %v\n%s", err, out)
	}
	if out, err := run(t, env, an, "audit", "list", "--action", "entry.import"); err != nil || strings.Count(out, "entry.import") != 5 { // one per batch: 2 + 2 + 1
		t.Errorf("audit list: %v\n%s", err, out)
	}
	if _, err := run(t, env, env.Customer("+8613912345678"), "blocklist", "import", csvPath); err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
		t.Errorf("a customer imports: err = %v, want PermissionDenied", err)
	}
}

func TestBlocklistCommandsForAnAnalyst(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	an := env.Analyst()
	out, err := run(t, env, an, "blocklist", "add", "+86 171*", "--category", "impersonation", "--reason", "fake hotline", "--expire", "720h")
	if err != nil || !strings.Contains(out, "+86171*") || !strings.Contains(out, "impersonation") {
		t.Fatalf("add: %v\n%s", err, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	if out, err := run(t, env, an, "blocklist", "update", id, "--reason", "wave 2", "--no-expire"); err != nil || !strings.Contains(out, "wave 2") {
		t.Errorf("update: %v\n%s", err, out)
	}
	if out, err := run(t, env, an, "blocklist", "list"); err != nil || !strings.Contains(out, "1 of 1 entries") {
		t.Errorf("list: %v\n%s", err, out)
	}
	if _, err := run(t, env, an, "blocklist", "add", "+8617*", "--category", "scam"); err == nil || !strings.Contains(err.Error(), "at least 3 digits") {
		t.Errorf("add a short prefix: err = %v", err)
	}
	for i := range 3 {
		resp := env.Do("POST", "/v1/reports", env.Customer(fmt.Sprintf("+86139000000%02d", i)), `{"callerNumber":"+8613800138000","note":"fake refund"}`)
		if resp.Status != 200 {
			t.Fatalf("report: %d %s", resp.Status, resp.Body)
		}
	}
	if out, err := run(t, env, an, "reports", "list"); err != nil || !strings.Contains(out, "+8613800138000  3        3") {
		t.Errorf("reports list: %v\n%s", err, out)
	}
	if out, err := run(t, env, an, "reports", "resolve", "+8613800138000", "--block", "--category", "scam"); err != nil || !strings.Contains(out, "blocked (3 reports by 3 customers)") {
		t.Errorf("reports resolve: %v\n%s", err, out)
	}
	if out, err := run(t, env, an, "blocklist", "delete", id); err != nil || !strings.Contains(out, "deleted") {
		t.Errorf("delete: %v\n%s", err, out)
	}
}

// TestImportCountsMatchRESTForTheSameFile: the CLI sends every row,
// unreadable ones included, and lets the server judge, so importing a file
// with the CLI and posting it to REST report the same counts and the same
// rejected lines.
func TestImportCountsMatchRESTForTheSameFile(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range 1200 {
		lines = append(lines, fmt.Sprintf(`{"pattern":"+86170%08d","category":"CATEGORY_SCAM","confidence":70}`, i))
	}
	lines[0] = ""                                                          // line 1: blank, skipped by both
	lines[99] = `{"pattern":"+8617000000099","category":"CATEGORY_SCAM"`   // line 100: cut short
	lines[1099] = `{"pattern":"+8617000001099","categry":"CATEGORY_SCAM"}` // line 1100: unknown field
	lines[1149] = `{"pattern":"+86*","category":"CATEGORY_SCAM"}`          // line 1150: refused
	lines[1150] = `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`       // line 1151: too long
	body := strings.Join(lines, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "rows.ndjson")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	cliEnv := testenv.New(t)
	out, err := run(t, cliEnv, cliEnv.Analyst(), "blocklist", "import", "--max-errors", "10", path)
	if err != nil {
		t.Fatalf("CLI import: %v\n%s", err, out)
	}
	restEnv := testenv.New(t)
	resp := restEnv.Do("POST", "/v1/blocklist:import", restEnv.Analyst(), body)
	var res callverifyv1.ImportEntriesResponse
	resp.Into(t, &res)

	want := fmt.Sprintf("%d imported, %d updated, %d rejected", res.GetImported(), res.GetUpdated(), res.GetRejected())
	if want != "1195 imported, 0 updated, 4 rejected" {
		t.Errorf("REST: %s, want 1195 imported, 0 updated, 4 rejected", want)
	}
	if !strings.Contains(out, want) {
		t.Errorf("CLI output does not say what REST said (%s):\n%s", want, out)
	}
	for _, e := range res.GetErrors() {
		if l := fmt.Sprintf("line %d: %s", e.GetLine(), e.GetMessage()); !strings.Contains(out, l) {
			t.Errorf("CLI output lacks REST's %q:\n%s", l, out)
		}
	}
}

func TestAnInterruptedImportSaysWhereItStoppedAndFails(t *testing.T) {
	t.Parallel()
	res := &callverifyv1.ImportEntriesResponse{Imported: 1, Rejected: 1, Interrupted: true}
	err := interruptedErr(res, []int32{2, 3, 5})
	if err == nil || !strings.Contains(err.Error(), "after line 3") {
		t.Errorf("interruptedErr = %v, want an error naming line 3", err)
	}
	res.Interrupted = false
	if err := interruptedErr(res, []int32{2, 3, 5}); err != nil {
		t.Errorf("a finished import: interruptedErr = %v, want nil", err)
	}
}
