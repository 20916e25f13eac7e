package docs

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/testbin"
)

var updateReadme = flag.Bool("update-readme", false,
	"write the walkthrough's actual outputs into README.md where they differ from the expected ones (review the diff: mask what varies with …)")

// The README's walkthrough is run as written: every ```sh block of these
// sections, in order, one bash session a section (the Walkthrough's against
// a freshly started `callverifyd --dev`), each block's output (stdout and
// stderr, as a terminal shows them) compared with the ```text block that
// follows it.
var walkthroughSections = []string{"Walkthrough", "Many instances on Redis"}

// buildBlock is the walkthrough's first block. The test runs its go build
// itself, into the session's bin/ rather than the checkout's, and checks
// the README builds exactly this.
const buildBlock = `# Build the tool, the server, the test-data generator and grpcurl into ./bin, once
go build -o bin/ ./cmd/... ./scripts/genblocklist
go build -modfile=tools/grpcurl/go.mod -o bin/ github.com/fullstorydev/grpcurl/cmd/grpcurl
export PATH=$PWD/bin:$PATH`

// builds are buildBlock's go builds: flags and packages after -o. grpcurl
// has a module of its own (tools/grpcurl).
var builds = [][]string{
	{"./cmd/...", "./scripts/genblocklist"},
	{"-modfile=tools/grpcurl/go.mod", "github.com/fullstorydev/grpcurl/cmd/grpcurl"},
}

// notRun lists the walkthrough blocks the test does not run, by their first
// line, and why. Nothing else is left out.
var notRun = map[string]string{}

// step is one walkthrough block and the output the README says it prints.
type step struct {
	section string
	line    int // of the ```sh fence
	code    string
	want    string
	// wantStart and wantEnd are the byte offsets of the expected output
	// in the README (for -update-readme).
	wantStart, wantEnd int
}

func (s step) name() string {
	first, _, _ := strings.Cut(s.code, "\n")
	return fmt.Sprintf("README.md:%d (%s: %s)", s.line, s.section, first)
}

// readmeSteps reads the walkthrough's blocks and their expected outputs.
func readmeSteps(t *testing.T, readme []byte) []step {
	t.Helper()
	var (
		steps   []step
		section string
		pending *step // a sh block waiting for its text block
		fence   string
		body    strings.Builder
		start   int // offset of the current fenced block's body
		lineNo  int
		fenceAt int
	)
	// A block that no ```text block follows prints nothing.
	flush := func() {
		if pending != nil {
			pending.wantStart, pending.wantEnd = -1, -1
			steps = append(steps, *pending)
			pending = nil
		}
	}
	inWalkthrough := func() bool {
		for _, s := range walkthroughSections {
			if section == s {
				return true
			}
		}
		return false
	}
	offset := 0
	sc := bufio.NewScanner(bytes.NewReader(readme))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lineNo++
		next := offset + len(line) + 1
		switch {
		case fence != "" && strings.TrimSpace(line) == "```":
			switch {
			case fence == "sh" && inWalkthrough():
				flush()
				pending = &step{section: section, line: fenceAt, code: strings.TrimSuffix(body.String(), "\n")}
			case fence == "text" && pending != nil:
				pending.want = strings.TrimSuffix(body.String(), "\n")
				pending.wantStart, pending.wantEnd = start, offset
				steps = append(steps, *pending)
				pending = nil
			}
			fence = ""
		case fence != "":
			body.WriteString(line)
			body.WriteByte('\n')
		case strings.HasPrefix(line, "```"):
			fence = strings.TrimSpace(strings.TrimPrefix(line, "```"))
			if fence == "" {
				fence = "plain"
			}
			body.Reset()
			start, fenceAt = next, lineNo
		case strings.HasPrefix(line, "## "):
			flush()
			section = strings.TrimSpace(strings.TrimPrefix(line, "## "))
		case strings.TrimSpace(line) != "":
			flush()
		}
		offset = next
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return steps
}

// matches reports whether got is what want describes: the same lines, where
// … in a line stands for any text within that line (ids, times, tokens,
// codes), and a line holding only ⋮ for any number of lines.
//
// Single-line protojson (the REST answers, the SSE events) puts a space
// after a comma or not, at random per build (protobuf-go does it on
// purpose, so that nobody depends on its bytes): a space after a comma is
// dropped on both sides before they are compared.
func matches(want, got string) bool {
	want, got = strings.ReplaceAll(want, ", ", ","), strings.ReplaceAll(got, ", ", ",")
	var re strings.Builder
	re.WriteString(`\A`)
	for _, l := range strings.Split(want, "\n") {
		if strings.TrimSpace(l) == "⋮" {
			re.WriteString(`(?:[^\n]*\n)*?`)
			continue
		}
		parts := strings.Split(l, "…")
		for i, p := range parts {
			if i > 0 {
				re.WriteString(`[^\n]*?`)
			}
			re.WriteString(regexp.QuoteMeta(p))
		}
		re.WriteString(`\n`)
	}
	re.WriteString(`\z`)
	return regexp.MustCompile(re.String()).MatchString(got + "\n")
}

func TestMatchesMasksWhatVaries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"ok", "ok", true},
		{"ok", "ok\nmore", false},
		{"call …", "call 7xq2", true},
		{"call …", "call 7xq2\nline", false},
		{"a … b", "a 1 2 b", true},
		{"a … b", "a 1 2 c", false},
		{"a\n⋮\nz", "a\nb\nc\nz", true},
		{"a\n⋮\nz", "a\nz", true},
		{"a\n⋮\nz", "a\nb", false},
		{"{\"x\":1}", "{\"x\":2}", false},
		{"{\"x\":1,\"y\":2}", "{\"x\":1, \"y\":2}", true},
		{"{\"x\":1, \"y\":2}", "{\"x\":1,\"y\":2}", true},
		{"{\"x\":1,\"y\":2}", "{\"x\":1,\"y\":3}", false},
	} {
		if got := matches(c.want, c.got); got != c.ok {
			t.Errorf("matches(%q, %q) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}

// automask writes got as an expected output, masking what surely varies
// between runs; the rest is left for the writer to judge.
func automask(got string) string {
	for _, r := range []struct{ re, with string }{
		{`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`, "…"},
		{`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`, "…"},
		{`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`, "…"},
		{`until \d\d:\d\d:\d\d`, "until …"},
		{`\b[a-z2-7]{26}\b`, "…"},
		{`"(confirmationCode|x|y|kid|origid)":( ?)"[^"]*"`, `"$1":$2"…"`},
		{`"(exp|iat)":\d+`, `"$1":…`},
		{`(?m)^code( +)\d{6}`, "code$1…"},
	} {
		got = regexp.MustCompile(r.re).ReplaceAllString(got, r.with)
	}
	return got
}

// TestReadmeWalkthroughRuns runs the README's walkthrough and holds each
// block to the output written under it. Each section runs in a bash session
// of its own, in a directory of its own, beside the others: the
// Walkthrough's against a new `callverifyd --dev`, the one on Redis against
// the redis-server and the two instances it starts itself.
func TestReadmeWalkthroughRuns(t *testing.T) {
	root := repoRoot(t)
	readmePath := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	steps := readmeSteps(t, readme)
	if len(steps) < 5 {
		t.Fatalf("found %d walkthrough blocks with their outputs in README.md, want the whole walkthrough", len(steps))
	}
	if got := steps[0].code; got != buildBlock {
		t.Fatalf("the walkthrough's first block is\n%s\nwant (the test builds these packages itself)\n%s", got, buildBlock)
	}
	var bin string
	for _, args := range builds {
		bin = testbin.For(t, args...)
	}
	var (
		mu    sync.Mutex
		fixes []readmeFix
	)
	t.Run("sections", func(t *testing.T) {
		for _, section := range walkthroughSections {
			var ss []step
			for _, s := range steps[1:] { // the build, done above
				if s.section == section {
					ss = append(ss, s)
				}
			}
			t.Run(section, func(t *testing.T) {
				t.Parallel()
				f := runSection(t, bin, section == "Walkthrough", ss, readme)
				mu.Lock()
				fixes = append(fixes, f...)
				mu.Unlock()
			})
		}
	})
	if !*updateReadme || len(fixes) == 0 {
		return
	}
	// From the end of the file back, so each fix's offsets hold.
	slices.SortFunc(fixes, func(a, b readmeFix) int { return b.start - a.start })
	updated := readme
	for _, f := range fixes {
		updated = append(append(append([]byte{}, updated[:f.start]...), f.text...), updated[f.end:]...)
	}
	if err := os.WriteFile(readmePath, updated, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("README.md updated: review the diff")
}

// readmeFix replaces readme[start:end] with text (-update-readme).
type readmeFix struct {
	start, end int
	text       string
}

// runSection runs steps, one section's blocks, in order in one bash session
// in a new directory, with the binaries of bin first on its PATH, and holds
// each to its expected output. With server, a `callverifyd --dev` with its
// data in the directory's data/ (where `callverify token mint` finds the
// development secret) serves the session at $GRPC and $HTTP; without, the
// session has free ports for the Redis section's redis-server and two
// instances ($REDIS, $A_GRPC, $A_HTTP, $B_GRPC, $B_HTTP). It returns the
// README fixes -update-readme makes of the outputs that differ.
func runSection(t *testing.T, bin string, server bool, steps []step, readme []byte) []readmeFix {
	dir := t.TempDir()
	var grpcAddr, httpAddr string
	if server {
		grpcAddr, httpAddr = testbin.FreeAddr(t), testbin.FreeAddr(t)
		var serverLog bytes.Buffer
		cmd := exec.Command(filepath.Join(bin, "callverifyd"), "--dev", "--data-dir", filepath.Join(dir, "data"),
			"--grpc-addr", grpcAddr, "--http-addr", httpAddr)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &serverLog, &serverLog
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if t.Failed() {
				t.Logf("callverifyd's log:\n%s", serverLog.String())
			}
		})
		waitReady(t, "http://"+httpAddr+"/readyz")
	}

	// One bash session runs every block in order (later blocks use the
	// tokens and ids of earlier ones); a marker line before each block
	// splits the output.
	const marker = "\x1e-- step "
	var script strings.Builder
	script.WriteString("exec 2>&1\n")
	var run []step
	for _, s := range steps {
		first, _, _ := strings.Cut(s.code, "\n")
		if reason, ok := notRun[first]; ok {
			t.Logf("not run: %s: %s", s.name(), reason)
			continue
		}
		fmt.Fprintf(&script, "printf '\\n%s%d\\n'\n%s\n", marker, len(run), s.code)
		run = append(run, s)
	}
	fmt.Fprintf(&script, "printf '\\n%send\\n'\nwait\n", marker)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "--noprofile", "--norc")
	sh.Dir = dir
	sh.Stdin = strings.NewReader(script.String())
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh.Cancel = func() error { return syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) }
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CALLVERIFY_") {
			env = append(env, kv)
		}
	}
	sh.Env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "TZ=UTC", "LC_ALL=C.UTF-8")
	if server {
		sh.Env = append(sh.Env, "HTTP="+httpAddr, "GRPC="+grpcAddr)
	} else {
		// The section on Redis starts its own redis-server and two
		// instances: on free ports, and Redis is shut down whatever
		// happens.
		ports := map[string]string{}
		for _, k := range []string{"REDIS", "A_GRPC", "A_HTTP", "B_GRPC", "B_HTTP"} {
			_, ports[k], _ = net.SplitHostPort(testbin.FreeAddr(t))
			sh.Env = append(sh.Env, k+"="+ports[k])
		}
		t.Cleanup(func() { exec.Command("redis-cli", "-p", ports["REDIS"], "shutdown", "nosave").Run() })
	}
	out, err := sh.CombinedOutput()
	// Stray background processes of the walkthrough go with the session.
	syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Errorf("bash: %v", err)
	}
	if !server {
		// What the section's own instances logged, should it fail.
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			for _, f := range []string{"a.log", "b.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("%s:\n%s", f, b)
				}
			}
		})
	}

	chunks := strings.Split(string(out), marker)
	got := map[int]string{}
	for _, c := range chunks[1:] {
		num, text, _ := strings.Cut(c, "\n")
		var i int
		if _, err := fmt.Sscanf(num, "%d", &i); err == nil {
			got[i] = strings.Trim(strings.TrimSuffix(text, "\n"), "\n")
		}
	}
	if _, ok := got[len(run)-1]; !ok || !strings.Contains(string(out), marker+"end") {
		t.Errorf("the session stopped before its end; its output:\n%s", out)
	}
	var fixes []readmeFix
	for i, s := range run {
		g, ok := got[i]
		switch {
		case !ok:
			t.Errorf("%s: never ran", s.name())
		case matches(s.want, g):
		case *updateReadme && s.wantStart < 0:
			// A block with no output written under it: a text block after
			// its closing fence.
			at := bytes.Index(readme[fenceEnd(readme, s):], []byte("```\n")) + fenceEnd(readme, s) + 4
			fixes = append(fixes, readmeFix{at, at, "\n```text\n" + automask(g) + "\n```\n"})
		case *updateReadme:
			fixes = append(fixes, readmeFix{s.wantStart, s.wantEnd, automask(g) + "\n"})
		default:
			t.Errorf("%s printed\n%s\n\nwant (README, … any text within a line, ⋮ any lines)\n%s", s.name(), g, s.want)
		}
	}
	return fixes
}

// fenceEnd is the offset of the line after s's opening fence.
func fenceEnd(readme []byte, s step) int {
	off := 0
	for i := 1; i <= s.line; i++ {
		off += bytes.IndexByte(readme[off:], '\n') + 1
	}
	return off
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after 30s (last error %v)", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
