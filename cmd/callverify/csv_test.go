package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// FuzzCSVRows: the import's CSV reader never panics and always comes to an
// end, whatever the file holds; every row it reports has a line number.
func FuzzCSVRows(f *testing.F) {
	for _, s := range []string{
		"pattern,category,reason,confidence,expire_time\n+8613800138000,scam,fake refund,90,2030-01-01T00:00:00Z\n",
		"\ufeffPattern , Category\n+86170*,SPAM\n",
		"pattern,category\n\"+86 170*\",\"scam\"\n",
		"pattern,category,reason\n+86170*,scam,\"'=1+1\"\n+86171*,scam,'-2\n",
		"pattern,category\n\"unterminated\n",
		"pattern,category\na\"b,c\n",
		"pattern,category\n",
		"pattern\n+86170*\n",
		"category,pattern,confidence\nscam,+86170*,x\n,,\n",
		"pattern,category,expire_time,source\n+86170*,scam,tomorrow,nope\n",
		"pattern,category\n\"a\"\"b\",c,d,e\r\n\r\n,\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := newCSVRows(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range len(data) + 2 {
			e, line, err := rows.next()
			if errors.Is(err, io.EOF) {
				return
			}
			var re *rowError
			switch {
			case errors.As(err, &re):
				if re.line < 1 {
					t.Fatalf("row error without a line: %+v", re)
				}
			case err != nil:
				t.Fatalf("a CSV reader error that is not a row error: %v", err)
			case e == nil || line < 2:
				t.Fatalf("row %+v at line %d", e, line)
			}
		}
		t.Fatalf("more rows than the %d bytes of input can hold", len(data))
	})
}

// FuzzCSVCell: import undoes what export did to any cell, and no exported
// cell starts like a spreadsheet formula.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "=1+1", "+86", "-", "@x", "\tx", "\rx", "'", "'=x", "''=x", "'x'", "plain", "退款"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := neutralise(s)
		if n != "" && strings.IndexByte(formulaStarts, n[0]) >= 0 {
			t.Fatalf("neutralise(%q) = %q starts like a formula", s, n)
		}
		if got := unneutralise(n); got != s {
			t.Fatalf("unneutralise(neutralise(%q)) = %q", s, got)
		}
	})
}

// What export writes, import reads back as the same entries; cells that a
// spreadsheet would run are quoted, and the number column stays as it is.
func TestCSVExportNeutralisesFormulasAndImportsBack(t *testing.T) {
	t.Parallel()
	exp := timestamppb.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	entries := []*callverifyv1.Entry{
		{Pattern: "+8613800138000", Category: callverifyv1.Category_CATEGORY_SCAM, Reason: "=HYPERLINK(\"x\",\"y\")", Confidence: 90, Source: callverifyv1.Source_SOURCE_IMPORT},
		{Pattern: "+86170*", Category: callverifyv1.Category_CATEGORY_SPAM, Reason: "+1 robocalls", ExpireTime: exp, Source: callverifyv1.Source_SOURCE_ANALYST},
		{Pattern: "+86171*", Category: callverifyv1.Category_CATEGORY_OTHER, Reason: "-5% refund scam", Source: callverifyv1.Source_SOURCE_ANALYST},
		{Pattern: "+8617100000001", Category: callverifyv1.Category_CATEGORY_OTHER, Reason: "@SUM(1)", Source: callverifyv1.Source_SOURCE_ANALYST},
		{Pattern: "+8617100000002", Category: callverifyv1.Category_CATEGORY_OTHER, Reason: "'=already quoted", Source: callverifyv1.Source_SOURCE_ANALYST},
		{Pattern: "+8617100000003", Category: callverifyv1.Category_CATEGORY_OTHER, Reason: "'quoted'", Source: callverifyv1.Source_SOURCE_ANALYST},
		{Pattern: "+8617100000004", Category: callverifyv1.Category_CATEGORY_OTHER, Reason: "\t=cmd|' /C calc'!A0", Source: callverifyv1.Source_SOURCE_ANALYST},
		{Pattern: "+8617100000005", Category: callverifyv1.Category_CATEGORY_IMPERSONATION, Reason: "冒充客服, \"退款\"", Confidence: 100, Source: callverifyv1.Source_SOURCE_CUSTOMER_REPORTS},
		{Pattern: "=1+1", Category: callverifyv1.Category_CATEGORY_OTHER, Source: callverifyv1.Source_SOURCE_ANALYST, CreateBy: "@admin"},
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(csvColumns()); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := (csvExport{w}).write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := (csvExport{w}).flush(); err != nil {
		t.Fatal(err)
	}

	recs, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[1:] {
		for i, cell := range rec {
			if cell == "" || strings.IndexByte(formulaStarts, cell[0]) < 0 {
				continue
			}
			if i != 0 || !plainPattern(cell) {
				t.Errorf("cell %q of column %s starts like a formula", cell, csvColumns()[i])
			}
		}
	}
	for i, want := range map[int][3]string{
		1: {"+8613800138000", "'=HYPERLINK(\"x\",\"y\")", ""},
		2: {"+86170*", "'+1 robocalls", ""},
		7: {"+8617100000004", "'\t=cmd|' /C calc'!A0", ""},
		9: {"'=1+1", "", "'@admin"},
	} {
		if got := [3]string{recs[i][0], recs[i][2], recs[i][8]}; got != want {
			t.Errorf("row %d: pattern, reason, create_by = %q, want %q", i, got, want)
		}
	}

	rows, err := newCSVRows(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range entries {
		got, line, err := rows.next()
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if line != i+2 {
			t.Errorf("row %d read from line %d, want %d", i, line, i+2)
		}
		// Import reads what an analyst sets; the rest is the server's.
		want = &callverifyv1.Entry{Pattern: want.Pattern, Category: want.Category, Reason: want.Reason,
			Confidence: want.Confidence, ExpireTime: want.ExpireTime, Source: want.Source}
		if !proto.Equal(got, want) {
			t.Errorf("row %d imported as %v, want %v", i, got, want)
		}
	}
	if _, _, err := rows.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last row: %v, want EOF", err)
	}
}

// A spreadsheet user keeps "+86..." as text by typing a quote before it:
// import takes the number without the quote.
func TestCSVImportDropsASpreadsheetTextQuote(t *testing.T) {
	t.Parallel()
	rows, err := newCSVRows(strings.NewReader("pattern,category,reason\n'+8613800138000,scam,'-1 day\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := rows.next()
	if err != nil {
		t.Fatal(err)
	}
	if e.GetPattern() != "+8613800138000" || e.GetReason() != "-1 day" {
		t.Errorf("read %v", e)
	}
}

// Through the real server: reasons that start like formulas are exported
// quoted, numbers as they are, and the export imports into another
// instance as the same entries.
func TestBlocklistCSVExportIsSafeAndImportsBack(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	an := env.Analyst()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	const src = "pattern,category,reason,confidence,expire_time\n" +
		"+8613800138000,scam,=1+1 fake hotline,90,2031-01-01T00:00:00Z\n" +
		"+86170*,spam,+1 robocall wave,50,\n" +
		"+8617100000001,impersonation,-5% refund scam,70,\n" +
		"+8617100000002,other,@SUM(1) spam,10,\n" +
		"+8617100000003,other,\"冒充客服, \"\"退款\"\"\",100,\n"
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, env, an, "blocklist", "import", in); err != nil || !strings.Contains(out, "5 imported, 0 updated, 0 rejected") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	exported := filepath.Join(dir, "out.csv")
	if out, err := run(t, env, an, "blocklist", "export", "-o", exported); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rec := range recs[1:] {
		got[rec[0]] = rec[2]
	}
	for pattern, reason := range map[string]string{
		"+8613800138000": "'=1+1 fake hotline",
		"+86170*":        "'+1 robocall wave",
		"+8617100000001": "'-5% refund scam",
		"+8617100000002": "'@SUM(1) spam",
		"+8617100000003": "冒充客服, \"退款\"",
	} {
		if got[pattern] != reason {
			t.Errorf("exported reason of %s = %q, want %q", pattern, got[pattern], reason)
		}
	}

	other := testenv.New(t)
	if out, err := run(t, other, other.Analyst(), "blocklist", "import", exported); err != nil || !strings.Contains(out, "5 imported, 0 updated, 0 rejected") {
		t.Fatalf("import of the export into another server: %v\n%s", err, out)
	}
	if a, b := entriesOf(t, env), entriesOf(t, other); a != b {
		t.Errorf("entries differ after the round trip:\n%s\n%s", a, b)
	}
}

// entriesOf lists what an analyst set on every entry, in pattern order.
func entriesOf(t *testing.T, env *testenv.Env) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "entries.ndjson")
	if out, err := run(t, env, env.Analyst(), "blocklist", "export", "-o", path); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		e := &callverifyv1.Entry{}
		if err := protojson.Unmarshal([]byte(line), e); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s|%s|%q|%d|%s|%s\n", e.GetPattern(), e.GetCategory(), e.GetReason(), e.GetConfidence(), ts(e.GetExpireTime()), e.GetSource())
	}
	return b.String()
}
