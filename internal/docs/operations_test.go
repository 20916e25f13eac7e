package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/testenv"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// section is the text of docs/operations.md under the "## title" heading,
// up to the next one.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	i := strings.Index(doc, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("docs/operations.md has no section %q", title)
	}
	rest := doc[i+len(title)+5:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func readOperations(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// servedMetrics starts the service as the server runs (app.New through
// testenv), with opts, touches what creates series on first use (an RPC,
// an HTTP request) and returns the names its registry gathers.
func servedMetrics(t *testing.T, opts ...testenv.Option) map[string]bool {
	t.Helper()
	env := testenv.New(t, opts...)
	if r := env.Do("GET", "/v1/official-numbers", env.Admin(), nil); r.Status != http.StatusOK {
		t.Fatalf("list official numbers: %d %s", r.Status, r.Body)
	}
	families, err := env.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}

var metricNameRE = regexp.MustCompile("`(callverify_[a-z0-9_]+)`")

// TestOperationsListsEveryMetric: every metric the server registers, on
// the embedded store and on Redis, has its row in docs/operations.md, and
// every callverify_ metric the page names is registered.
func TestOperationsListsEveryMetric(t *testing.T) {
	t.Parallel()
	doc := section(t, readOperations(t), "Metrics")
	redis := redistest.Standalone(t)
	served := servedMetrics(t)
	for name := range servedMetrics(t, testenv.OnRedis(t, redis.Addr())) {
		served[name] = true
	}

	var missing []string
	for name := range served {
		switch {
		case strings.HasPrefix(name, "go_"):
			if !strings.Contains(doc, "| `go_*` |") {
				missing = append(missing, "go_* (the Go collector)")
			}
		case strings.HasPrefix(name, "process_"):
			if !strings.Contains(doc, "| `process_*` |") {
				missing = append(missing, "process_* (the process collector)")
			}
		case !strings.Contains(doc, "| `"+name+"` |"):
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the server registers metrics docs/operations.md does not list (add a row \"| `name` | type | labels | meaning |\"):\n%s", strings.Join(missing, "\n"))
	}
	if !served["callverify_redis_command_duration_seconds"] || !served["callverify_bolt_file_bytes"] {
		t.Errorf("the store metrics were not gathered (Redis and bbolt ones both expected): %v", served)
	}
	for _, m := range metricNameRE.FindAllStringSubmatch(doc, -1) {
		if !served[m[1]] {
			t.Errorf("docs/operations.md names %s, which the server does not register", m[1])
		}
	}
}

// logLevels are the slog methods whose message the table must list.
var logLevels = map[string]int{ // method -> index of the message argument
	"Debug": 0, "Info": 0, "Warn": 0, "Error": 0,
	"DebugContext": 1, "InfoContext": 1, "WarnContext": 1, "ErrorContext": 1,
}

// logMessages are the messages of the slog calls in the service's Go code
// (not tests, tools or scripts): a string literal, or the literal that
// starts a concatenation ("draining for up to " + the timeout).
func logMessages(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{} // message -> where
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "tools", "scripts", "api", "deploy":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		for _, dir := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
			if strings.HasSuffix(dir, "test") || dir == "testenv" { // helpers of tests: storetest, redistest, ...
				return nil
			}
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			i, ok := logLevels[sel.Sel.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			arg := call.Args[i]
			for {
				b, ok := arg.(*ast.BinaryExpr)
				if !ok || b.Op != token.ADD {
					break
				}
				arg = b.X
			}
			lit, ok := arg.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			msg, err := strconv.Unquote(lit.Value)
			if err == nil {
				out[msg] = fset.Position(lit.Pos()).String()
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOperationsListsEveryLogMessage: each message the service logs with
// slog is a row of docs/operations.md's log table.
func TestOperationsListsEveryLogMessage(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	doc := section(t, readOperations(t), "Logs")
	msgs := logMessages(t, root)
	for _, want := range []string{"serving", "draining for up to ", "rpc failed", "token refused"} {
		if _, ok := msgs[want]; !ok {
			t.Errorf("the scan of the Go code did not find the log message %q: it no longer sees slog calls", want)
		}
	}
	for msg, where := range msgs {
		if !strings.Contains(doc, "| `"+msg) {
			t.Errorf("%s logs %q, which docs/operations.md's Logs table does not list", where, msg)
		}
	}
}

var flagRE = regexp.MustCompile("--([a-z0-9][a-z0-9-]*)")

// TestOperationsNamesOnlyRealFlags: every --flag docs/operations.md names
// is one of callverifyd's (or --help, which prints them).
func TestOperationsNamesOnlyRealFlags(t *testing.T) {
	t.Parallel()
	usage := app.Usage("callverifyd")
	for _, m := range flagRE.FindAllStringSubmatch(readOperations(t), -1) {
		if m[1] != "help" && !strings.Contains(usage, "--"+m[1]+" ") {
			t.Errorf("docs/operations.md names --%s, which callverifyd --help does not list", m[1])
		}
	}
}
