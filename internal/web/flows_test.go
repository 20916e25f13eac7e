package web_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/callverify/callverify/internal/testenv"
)

// must sends a REST request that has to succeed.
func must(t *testing.T, e *testenv.Env, method, path, token string, body any) map[string]any {
	t.Helper()
	r := e.Do(method, path, token, body)
	if r.Status != 200 {
		t.Fatalf("%s %s: HTTP %d %s", method, path, r.Status, r.Body)
	}
	return r.JSON()
}

func analystBlocklist(t *testing.T, b *browser) {
	e := testenv.New(t)
	must(t, e, "POST", "/v1/official-numbers", e.Admin(), map[string]any{"number": "400-800-8888", "displayName": "Customer service", "direction": "DIRECTION_OUTBOUND"})
	for _, p := range []string{"13800138001", "13800138002", "13800138003"} {
		must(t, e, "POST", "/v1/reports", e.Customer(p), map[string]any{"callerNumber": "+86 188 0000 9999", "note": "said my parcel was lost, asked for a transfer (" + p[len(p)-1:] + ")"})
	}
	must(t, e, "POST", "/v1/reports", e.Customer("13800138004"), map[string]any{"callerNumber": "+86 177 0000 1234", "note": "robocall about a loan"})

	tb := b.tab(t)
	tb.run("open the console", chromedp.Navigate(e.HTTPURL+"/console/"), visible("#dev"))
	tb.axe("console sign-in")
	tb.shot("console-signin")
	tb.consoleSignIn(e, "analyst")

	// Add a prefix block: it is in the list.
	tb.run("add +86170*",
		waitText("#bl-list-table", "No entries."),
		typeIn("#bl-pattern", "+86170*"),
		setValue("#bl-category", "CATEGORY_IMPERSONATION"),
		typeIn("#bl-reason", "fake customer service wave"),
		click("#bl-submit"),
		waitText("#bl-list-table", "+86170*"),
		waitText("#bl-list-table", "fake customer service wave"),
		waitText("#bl-list-table", "prefix"))
	tb.run("add a number", typeIn("#bl-pattern", "+86 171 0000 1111"),
		setValue("#bl-category", "CATEGORY_SCAM"),
		click("#bl-submit"), waitText("#bl-list-table", "+8617100001111"))

	// Search by prefix: only the entries under it.
	tb.run("search +86170", typeIn("#bl-prefix", "+86170"), click("#bl-search"),
		waitText("#screen", "1 entry on this page (pattern starting with +86170)."))
	if got := tb.text("#bl-list-table tbody"); strings.Contains(got, "+8617100001111") || !strings.Contains(got, "+86170*") {
		t.Errorf("prefix search +86170 lists %q, want +86170* alone", got)
	}
	// Search by number: the entry that blocks it.
	tb.run("check a number", typeIn("#bl-number", "170 1234 5678"), click("#bl-check"),
		waitText("#screen", "+8617012345678 is blocked by the entry +86170*."))

	// A pattern covering an official number is refused, in words.
	tb.run("try to block the official line", typeIn("#bl-pattern", "+86400*"),
		click("#bl-submit"),
		waitText("#bl-edit-error", "would match the official number +864008008888"),
		waitText("#bl-edit-error", "customers would be told that genuine calls from it are fraud"))
	tb.axe("blocklist")
	tb.shot("console-blocklist")

	// Edit the number's entry, then delete it (a second click confirms).
	tb.run("edit +8617100001111", clearIn("#bl-prefix"), click("#bl-search"), waitText("#bl-list-table", "+8617100001111"),
		click(`button[aria-label="Edit +8617100001111"]`), waitText("#bl-edit", "Edit +8617100001111"),
		clearIn("#bl-reason"), typeIn("#bl-reason", "refund scam, confirmed"), click("#bl-submit"),
		waitText("#bl-list-table", "refund scam, confirmed"))
	if r := e.Do("GET", "/v1/blocklist:check?number=%2B8617100001111", e.Analyst(), nil); !strings.Contains(string(r.Body), "refund scam, confirmed") {
		t.Errorf("after the edit the entry is %s", r.Body)
	}
	tb.run("delete +8617100001111", click(`button[aria-label="Delete +8617100001111"]`), waitText(`button[aria-label="Delete +8617100001111"]`, "Really delete?"),
		click(`button[aria-label="Delete +8617100001111"]`), gone(`button[aria-label="Delete +8617100001111"]`))
	if r := e.Do("GET", "/v1/blocklist:check?number=%2B8617100001111", e.Analyst(), nil); !strings.Contains(string(r.Body), `"blocked":false`) {
		t.Errorf("after the delete the number is still blocked: %s", r.Body)
	}

	// Reported numbers, busiest first; block one.
	tb.screen("reports")
	tb.run("reports listed", waitText("#reports-table", "+8618800009999"), waitText("#reports-table", "robocall about a loan"))
	rows := tb.text("#reports-table tbody")
	if i, j := strings.Index(rows, "+8618800009999"), strings.Index(rows, "+8617700001234"); i < 0 || j < 0 || i > j {
		t.Errorf("reported numbers not busiest first:\n%s", rows)
	}
	tb.axe("reported numbers")
	tb.shot("console-reports")
	tb.run("block the reported number", click(`button[aria-label="Block +8618800009999"]`),
		waitText("#reports-table", "blocked"))

	tb.screen("audit")
	tb.run("audit log", waitText("#audit-table", "reported_number.block"), waitText("#audit-table", "entry.create"))
	tb.axe("audit log")
	tb.shot("console-audit")
}

func analystImport(t *testing.T, b *browser) {
	e := testenv.New(t)
	var csv strings.Builder
	csv.WriteString("pattern,category,reason,confidence\n")
	bad := map[int]string{5: "+86171%08d,weird,bad category,90\n", 10: "hello,scam,not a number,90\n", 15: "+86171%08d,scam,bad confidence,lots\n"}
	for line := 2; line <= 301; line++ {
		if f, ok := bad[line]; ok {
			if strings.Contains(f, "%") {
				fmt.Fprintf(&csv, f, line)
			} else {
				csv.WriteString(f)
			}
			continue
		}
		fmt.Fprintf(&csv, "+86171%08d,scam,bulk list,80\n", line)
	}
	csv.WriteString("\"+8617100000302,scam,unterminated\n")
	path := filepath.Join(t.TempDir(), "blocklist.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	tb := b.tab(t)
	// Sign in as without --dev: paste a token of the identity provider.
	tb.run("sign in with a pasted token", chromedp.Navigate(e.HTTPURL+"/console/"), visible("#token"),
		setValue("#token", e.Analyst()), click("#token-form button"), waitText("#who", "Signed in as analyst-1 (analyst)"))
	tb.screen("import")
	tb.run("import the file",
		upload("#import-file", path),
		click("#import-submit"),
		waitText("#import-result", "rejected"))
	if got, want := tb.text("#import-result p"), "297 imported, 0 updated, 4 rejected."; got != want {
		t.Errorf("import summary %q, want %q", got, want)
	}
	value := eval[string](tb, "progress", `String(document.getElementById('import-progress').value)`)
	if value != "100" || !strings.Contains(tb.text("#import-progress-text"), "Done") {
		t.Errorf("progress bar at %s saying %q, want 100 and Done", value, tb.text("#import-progress-text"))
	}
	rejected := tb.text("#import-result tbody")
	for _, want := range []string{"5", "10", "15", "302", "a quoted cell is not closed", "confidence"} {
		if !strings.Contains(rejected, want) {
			t.Errorf("rejected rows do not say %q:\n%s", want, rejected)
		}
	}
	lines := eval[[]string](tb, "rejected lines", `[...document.querySelectorAll('#import-result tbody tr td:first-child')].map((td) => td.textContent)`)
	if got, want := strings.Join(lines, ","), "5,10,15,302"; got != want {
		t.Errorf("rejected lines %s, want %s", got, want)
	}
	if r := e.Do("GET", "/v1/blocklist/entries?pageSize=1", e.Analyst(), nil); !strings.Contains(string(r.Body), `"totalSize":297`) {
		t.Errorf("after the import the blocklist holds: %s, want 297 entries", r.Body)
	}
	tb.axe("import")
	tb.shot("console-import")

	// Export: the download holds what was imported, one entry a line.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(tb.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatal(err)
	}
	tb.screen("blocklist")
	tb.run("export", click("#screen section:last-of-type button"))
	got := waitFile(t, filepath.Join(dir, "blocklist-export.ndjson"))
	if n := strings.Count(got, "\n"); n != 297 || !strings.Contains(got, `"pattern":"+8617100000002"`) {
		t.Errorf("the export holds %d lines, want the 297 imported entries:\n%.300s", n, got)
	}
}

// waitFile waits for a download to finish and returns the file.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && bytes.HasSuffix(b, []byte("\n")) {
			return string(b)
		}
		time.Sleep(50 * time.Millisecond) // polls the file system: the browser writes the download
	}
	t.Fatalf("no download at %s after %v", path, stepTimeout)
	return ""
}

func adminScreens(t *testing.T, b *browser) {
	e := testenv.New(t)
	tb := b.tab(t)
	tb.consoleSignIn(e, "admin")
	tb.screen("official")
	tb.run("register a line",
		typeIn("#on-number", "400-800-8888"),
		typeIn("#on-name", "Customer service"),
		click("#on-submit"),
		waitText("#on-list-table", "+864008008888"))
	tb.run("register a hotline",
		typeIn("#on-number", "95188"),
		setValue("#on-direction", "DIRECTION_INBOUND_ONLY"),
		typeIn("#on-name", "Hotline"),
		click("#on-submit"),
		waitText("#on-list-table", "+8695188"))
	tb.axe("official numbers")
	tb.shot("console-official")

	for _, to := range []string{"13800138000", "13900139000"} {
		must(t, e, "POST", "/v1/calls", e.Dialer(), map[string]any{"callerNumber": "400-800-8888", "calleeNumber": to,
			"reason": "CALL_REASON_REFUND", "agentId": "a-7", "agentName": "Wang"})
	}
	tb.screen("calls")
	tb.run("live calls", typeIn("#calls-line", "400-800-8888"), click("#calls-list"),
		waitText("#calls-table", "+8613900139000"), waitText("#calls-table", "+8613800138000"))
	tb.axe("live calls")
	tb.shot("console-calls")
	tb.run("end them", click("#screen .actions button"), click("#screen .actions button"),
		waitText("#calls-table", "No live calls from 400-800-8888."))

	tb.screen("keys")
	tb.run("keys", waitText("#keys-table", "current"))
	tb.run("rotate", click("#keys-rotate"), click("#keys-rotate"),
		waitText("#keys-table", "retired"), waitText("#keys-table", "2 keys are published"))
	tb.axe("signing keys")
	tb.shot("console-keys")
}

func dialerAndCustomer(t *testing.T, b *browser) {
	e := testenv.New(t)
	must(t, e, "POST", "/v1/official-numbers", e.Admin(), map[string]any{"number": "400-800-8888", "displayName": "Customer service", "direction": "DIRECTION_OUTBOUND"})
	must(t, e, "POST", "/v1/blocklist/entries", e.Analyst(), map[string]any{"pattern": "+86170*", "category": "CATEGORY_IMPERSONATION", "reason": "fake customer service"})

	// The dialer stamps a call; the code is shown big.
	d := b.tab(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(e.Logs.String(), "\n") {
				if strings.Contains(l, "rpc") || strings.Contains(l, "http") {
					t.Log(l)
				}
			}
		}
	})
	d.consoleSignIn(e, "dialer")
	d.run("stamp a call",
		typeIn("#d-caller", "400-800-8888"),
		typeIn("#d-callee", "138 0013 8000"),
		setValue("#d-reason", "CALL_REASON_REFUND"),
		setValue("#d-text", "退款处理回访"),
		typeIn("#d-order", "A-1001"),
		typeIn("#d-agent-id", "a-7"),
		setValue("#d-agent-name", "王小明"),
		click("#d-stamp"),
		visible("#d-stamped .code-big"))
	code := d.text("#d-stamped .code-big")
	if len(code) != 6 {
		t.Fatalf("the dialer's screen shows the code %q, want 6 digits", code)
	}
	d.axe("dialer")
	d.shot("console-dialer")
	// A second call, ended from its card: it leaves the customer's list.
	d.run("stamp and end a call", clearIn("#d-callee"), typeIn("#d-callee", "139 0013 9000"), click("#d-stamp"),
		waitText("#d-stamped", "To +8613900139000"), click(`article[aria-label="Call to +8613900139000"] button`),
		waitText(`.mycalls article[aria-label="Call to +8613900139000"]`, "ended"),
		gone(`#d-stamped article`))
	d.screen("callbacks")
	d.run("callback queue", waitText("#callbacks-list", "The queue is empty."))
	d.axe("callback queue")

	// The customer, on a phone-sized page.
	c := b.tab(t)
	c.run("open the check page", chromedp.EmulateViewport(412, 915), chromedp.Navigate(e.HTTPURL+"/check/"),
		visible("#dev-form"))
	c.axe("check sign-in")
	c.shot("check-signin")
	c.run("sign in", typeIn("#dev-phone", "13800138000"), click("#dev-signin"),
		visible("#app"),
		// The call the dialer stamped is on its card, with its code.
		waitText("#calls", code), waitText("#calls", "王小明"),
		waitText("#live", "新的来电会自动显示"))
	// The page holds the live stream (and does not poll while it does): a
	// call stamped now shows up on its own, with no refresh.
	// (From another line, so that the checks below still find the first.)
	must(t, e, "POST", "/v1/official-numbers", e.Admin(), map[string]any{"number": "400-800-9999", "displayName": "Delivery", "direction": "DIRECTION_OUTBOUND"})
	live := must(t, e, "POST", "/v1/calls", e.Dialer(), map[string]any{"callerNumber": "400-800-9999", "calleeNumber": "13800138000",
		"reason": "CALL_REASON_DELIVERY", "agentId": "a-9", "agentName": "李四"})
	liveCode, _ := live["confirmationCode"].(string)
	c.run("a new call's card arrives by itself, with its code", waitText("#calls", "李四"), waitText("#calls", liveCode))
	c.shot("check-live-card")

	c.run("check the official line", typeIn("#caller", "400-800-8888"), click("#check"),
		visible(`#verdict [data-verdict="VERDICT_VERIFIED"]`))
	if got := c.text("#verdict .code-big"); got != code {
		t.Errorf("the green card shows the code %q, want the dialer's %q", got, code)
	}
	card := c.text("#verdict")
	for _, want := range []string{"真实来电", "王小明", "退款", "退款处理回访", "A-1001"} {
		if !strings.Contains(card, want) {
			t.Errorf("the green card does not say %q:\n%s", want, card)
		}
	}
	c.axe("check: verified")
	c.shot("check-verified")
	c.run("type the code the agent said", typeIn("#verdict input", code),
		click("#verdict form.confirm button"), waitText("#verdict", "验证码正确"))

	c.run("check a blocked number", clearIn("#caller"), typeIn("#caller", "170 1234 5678"),
		click("#check"),
		visible(`#verdict [data-verdict="VERDICT_KNOWN_FRAUD"]`), waitText("#verdict", "很可能是诈骗电话"))
	c.axe("check: fraud")
	c.shot("check-fraud")
	c.run("open the report form", click(`#verdict button[aria-expanded]`),
		typeIn("#report-note", "asked me to move money to a safe account"),
		click("#verdict form.report button"), waitText("#verdict", "已收到您的举报"))

	c.run("switch to English", click("#lang"), waitText("#verdict", "Very likely a fraud call"),
		waitText("#check-title", "Check the number that is calling"))
	if lang := eval[string](c, "lang", `document.documentElement.lang`); lang != "en" {
		t.Errorf("html lang %q after the switch, want en", lang)
	}
	c.shot("check-fraud-en")

	c.run("an unknown number", clearIn("#caller"), typeIn("#caller", "+44 20 7946 0958"),
		click("#check"), visible(`#verdict [data-verdict="VERDICT_UNKNOWN"]`),
		waitText("#verdict", "Unknown number"))
	c.run("ask for a callback", click("#callback-form button"), waitText("#callback-result", "Callback requested. Your place in the queue: 1."))
	c.axe("check: unknown")
	c.shot("check-unknown-en")
}
