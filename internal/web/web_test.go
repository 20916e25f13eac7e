package web_test

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/callverify/callverify/internal/testenv"
	"github.com/callverify/callverify/internal/web"
)

func TestPagesAndAssetsCarryTheSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/console/", 200, "text/html; charset=utf-8"},
		{"/check/", 200, "text/html; charset=utf-8"},
		{"/console/main.js", 200, "text/javascript; charset=utf-8"},
		{"/console/screens/blocklist.js", 200, "text/javascript; charset=utf-8"},
		{"/check/check.css", 200, "text/css; charset=utf-8"},
		{"/assets/api.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/icon.svg", 200, "image/svg+xml"},
		// Directories are not listed, and what is not there is not found.
		{"/console/screens/", 404, ""},
		{"/console/nothing.js", 404, ""},
		{"/", 302, ""},
	} {
		req, err := http.NewRequest("GET", e.HTTPURL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode; got != tc.status {
			t.Errorf("GET %s: HTTP %d, want %d", tc.path, got, tc.status)
		}
		if tc.ctype != "" {
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
			}
		}
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
				"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("GET %s: %s = %q, want %q", tc.path, name, got, want)
			}
		}
	}
}

// staticFiles walks the embedded pages as they are in the repository.
func staticFiles(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ext) {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %s files under static/", ext)
	}
	return out
}

func TestNoPageHoldsInlineScriptOrStyle(t *testing.T) {
	t.Parallel()
	for path, src := range staticFiles(t, ".html") {
		z := html.NewTokenizer(strings.NewReader(src))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[strings.ToLower(a.Key)] = a.Val
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Errorf("%s: <%s %s=...>: an inline event handler", path, tok.Data, a.Key)
				}
				if strings.ToLower(a.Key) == "style" {
					t.Errorf("%s: <%s style=...>: an inline style", path, tok.Data)
				}
				if (a.Key == "href" || a.Key == "src") && (strings.Contains(a.Val, "//") || strings.HasPrefix(strings.ToLower(a.Val), "javascript:")) {
					t.Errorf("%s: <%s %s=%q>: not from this origin's paths", path, tok.Data, a.Key, a.Val)
				}
			}
			switch tok.Data {
			case "style":
				t.Errorf("%s: a <style> element", path)
			case "script":
				if attrs["src"] == "" {
					t.Errorf("%s: a <script> without src (inline script)", path)
				} else if z.Next() == html.TextToken && strings.TrimSpace(string(z.Text())) != "" {
					t.Errorf("%s: <script src=%q> with a body", path, attrs["src"])
				}
			}
		}
	}
}

// The scripts write data as text: no HTML sinks, no eval.
func TestNoScriptWritesHTMLOrEvaluatesStrings(t *testing.T) {
	t.Parallel()
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment|setTimeout\(['"]`)
	for path, src := range staticFiles(t, ".js") {
		for i, line := range strings.Split(src, "\n") {
			if m := sinks.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s", path, i+1, m)
			}
		}
	}
}

func TestTheCSPIsStrict(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "data:", "http:", "https:"} {
		if strings.Contains(web.CSP, bad) {
			t.Errorf("CSP %q allows %s", web.CSP, bad)
		}
	}
}
