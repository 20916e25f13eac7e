package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/callverify/callverify/internal/testenv"
)

var writeScreenshots = flag.Bool("screenshots", false, "write the browser tests' screenshots to docs/screenshots (make screenshots)")

// screenshotDir is where -screenshots writes, the README's pictures.
const screenshotDir = "../../docs/screenshots"

// chromiumPath finds Debian's Chromium, or fails saying how to install it.
// Its headless shell comes first: the same engine without the browser's
// own interface, it runs these tests in about two thirds of the CPU.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			t.Logf("browser: %s", p)
			return p
		}
	}
	t.Fatal("the browser tests need Chromium, which is not installed: apt-get install -y chromium-headless-shell (.ci/run installs it)")
	return ""
}

// browser is one headless Chromium for every browser test; each test
// drives tabs of its own.
type browser struct {
	ctx context.Context
	axe string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	axe, err := os.ReadFile(filepath.Join("testdata", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1200, 900),
		chromedp.Flag("lang", "en-US"),
		// Headless Chromium still builds its omnibox popups as web pages,
		// one renderer for every tab, kept busy by each navigation: a third
		// of the tests' CPU, for a UI nobody sees.
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,"+
			"PreloadTopChromeWebUI,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup"),
		// Every test server is on loopback, one site for Chromium whatever
		// the port: one renderer for all the tabs instead of one each (a
		// fifth less CPU in the browser tests).
		chromedp.Flag("process-per-site", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if *writeScreenshots {
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &browser{ctx: bctx, axe: string(axe)}
}

// tab is a new tab; the test fails on any script exception or any
// Content-Security-Policy violation in it.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context
	mu  sync.Mutex
	bad []string
}

func (b *browser) tab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{t: t, b: b, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			tb.fail(fmt.Sprintf("script exception at %s:%d: %s %s", d.URL, d.LineNumber+1, d.Text, desc))
		case *cdplog.EventEntryAdded:
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				tb.fail("CSP violation: " + ev.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, m := range tb.bad {
			t.Error(m)
		}
	})
	return tb
}

func (tb *tab) fail(msg string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.bad = append(tb.bad, msg)
}

type step = chromedp.Action[chromedp.Void]

func (tb *tab) run(what string, steps ...step) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fatal(what, err)
	}
}

// stepTimeout bounds each group of steps: a page that never shows what a
// test waits for fails it in seconds.
const stepTimeout = 15 * time.Second

func (tb *tab) fatal(what string, err error) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[
		document.querySelector('main') ? document.querySelector('main').innerText : '',
		'fields: ' + [...document.querySelectorAll('input, select, textarea')].map((e) => e.id + '=' + JSON.stringify(e.value)).join(' '),
		'errors: ' + [...document.querySelectorAll('[role=alert]')].map((e) => e.textContent).join(' | '),
	].join('\n')`))
	tb.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
}

// eval evaluates a script in the page and decodes its value.
func eval[T any](tb *tab, what, expr string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		tb.fatal(what, err)
	}
	return v
}

// pollEvery is how often a step that waits for the page looks again.
// chromedp's defaults (a query every 5ms, a script every animation frame)
// keep Chromium drawing and answering flat out: with the flows in parallel
// on two cores, the browser's CPU was most of the test's.
const pollEvery = 25 * time.Millisecond

// retry is the query option of every step on an element.
var retry = chromedp.RetryInterval(pollEvery)

// Shorthands for actions on the element a CSS selector finds.
func click(sel string) step           { return chromedp.Click(chromedp.CSS(sel), retry) }
func typeIn(sel, text string) step    { return chromedp.SendKeys(chromedp.CSS(sel), text, retry) }
func setValue(sel, value string) step { return chromedp.SetValue(chromedp.CSS(sel), value, retry) }
func visible(sel string) step         { return chromedp.WaitVisible(chromedp.CSS(sel), retry) }
func gone(sel string) step            { return chromedp.WaitNotPresent(chromedp.CSS(sel), retry) }
func upload(sel string, files ...string) step {
	return chromedp.SetUploadFiles(chromedp.CSS(sel), files, retry)
}

// clearIn empties a field (chromedp.Clear leaves a text input's value).
func clearIn(sel string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%s).value = '') === ''`, strconv.Quote(sel)))(ctx, t)
		return err
	})
}

// waitText waits until the element sel holds text.
func waitText(sel, text string) step {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%s); return !!el && el.textContent.includes(%s); })()`,
		strconv.Quote(sel), strconv.Quote(text)), chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(stepTimeout))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), retry))
	if err != nil {
		tb.fatal("read "+sel, err)
	}
	return strings.TrimSpace(s)
}

// shot writes a screenshot of the whole page as name.png, when the test
// runs with -screenshots (make screenshots): encoding a page as PNG costs
// the browser more than most steps, and only the README needs the pictures.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	if !*writeScreenshots {
		return
	}
	// Clear the status toast so that it covers nothing.
	eval[bool](tb, "clear the toast", `!!document.getElementById('status') && (document.getElementById('status').textContent = '') === ''`)
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.fatal("screenshot "+name, err)
	}
	if len(buf) < 1000 {
		tb.t.Fatalf("screenshot %s: %d bytes", name, len(buf))
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// axeSelfCheck makes sure the accessibility check can fail: a button with
// no name, added to a page, is a critical violation it reports.
func axeSelfCheck(t *testing.T, b *browser) {
	e := testenv.New(t)
	tb := b.tab(t)
	tb.run("open the check page", chromedp.Navigate(e.HTTPURL+"/check/"), visible("#dev-form"))
	if vs := tb.axeViolations(); len(vs) != 0 {
		t.Fatalf("the check page has violations before the test adds one: %+v", vs)
	}
	eval[bool](tb, "add a nameless button", `document.querySelector('main').appendChild(document.createElement('button')) !== null`)
	vs := tb.axeViolations()
	if len(vs) != 1 || vs[0].ID != "button-name" || vs[0].Impact != "critical" {
		t.Errorf("axe found %+v, want one critical button-name violation", vs)
	}
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axe runs axe-core on the page as it is and fails on any serious or
// critical violation.
func (tb *tab) axe(screen string) {
	tb.t.Helper()
	for _, v := range tb.axeViolations() {
		tb.t.Errorf("axe on %s: %s (%s): %s at %v", screen, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// axeViolations runs axe-core on the page and returns its serious and
// critical violations. axe is injected through the DevTools protocol,
// never served by the application.
func (tb *tab) axeViolations() []axeViolation {
	tb.t.Helper()
	if eval[bool](tb, "is axe there", `typeof axe === 'undefined'`) {
		eval[bool](tb, "inject axe", tb.b.axe+"\n;true")
	}
	out := eval[string](tb, "axe", `axe.run(document, {resultTypes: ['violations']}).then((r) => JSON.stringify(r.violations
			.filter((v) => v.impact === 'serious' || v.impact === 'critical')
			.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}))))`,
		chromedp.EvalAwaitPromise)
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		tb.t.Fatalf("axe: %v (%s)", err, out)
	}
	return vs
}

// consoleSignIn opens the console and signs in with the development button.
func (tb *tab) consoleSignIn(e *testenv.Env, role string) {
	tb.t.Helper()
	tb.run("console dev sign-in as "+role,
		chromedp.Navigate(e.HTTPURL+"/console/"),
		visible("#dev"), setValue("#dev-role", role), click("#dev-signin"),
		visible("#nav"), waitText("#who", "("+role+")"))
}

func (tb *tab) screen(id string) {
	tb.t.Helper()
	tb.run("open screen "+id, click(`#navlist a[data-screen="`+id+`"]`),
		visible(`#navlist a[data-screen="`+id+`"][aria-current="page"]`))
}

func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	// Parallel subtests in tabs of the one browser; the group returns when
	// all are done, before the browser closes.
	t.Run("group", func(t *testing.T) {
		t.Run("AnalystBlocksAPrefixAndSeesItInTheList", func(t *testing.T) { t.Parallel(); analystBlocklist(t, b) })
		t.Run("ImportShowsProgressAndTheRejectedLines", func(t *testing.T) { t.Parallel(); analystImport(t, b) })
		t.Run("AdminScreens", func(t *testing.T) { t.Parallel(); adminScreens(t, b) })
		t.Run("CustomerSeesTheGreenCardWithTheDialersCodeAndTheRedCard", func(t *testing.T) { t.Parallel(); dialerAndCustomer(t, b) })
		t.Run("ADialerCallsBackTheCustomerWhoAskedAndTheCardSaysSo", func(t *testing.T) { t.Parallel(); callbackFlow(t, b) })
		t.Run("TheAccessibilityCheckFindsAButtonWithoutAName", func(t *testing.T) { t.Parallel(); axeSelfCheck(t, b) })
	})
}
