// Package docs holds the tests that keep the repository's Markdown honest.
package docs

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse --show-toplevel: %v (the docs tests run inside the repository's git checkout)", err)
	}
	return strings.TrimSpace(string(out))
}

// markdownFiles are the repository's tracked Markdown files.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Fields(string(out)) {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			files = append(files, f)
		}
	}
	if len(files) < 3 {
		t.Fatalf("found %d Markdown files, want README.md and docs/", len(files))
	}
	return files
}

var (
	linkRE    = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	headingRE = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
	codeRE    = regexp.MustCompile("`[^`]*`")
)

// doc is what the links of a Markdown file need of it.
type doc struct {
	links   []link
	anchors map[string]bool
}

type link struct {
	line   int
	target string
}

func readDoc(t *testing.T, path string) doc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := doc{anchors: map[string]bool{}}
	seen := map[string]int{}
	fenced := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			a := anchor(m[1])
			if k := seen[a]; k > 0 {
				d.anchors[a+"-"+strconv.Itoa(k)] = true
			} else {
				d.anchors[a] = true
			}
			seen[a]++
		}
		for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(line, ""), -1) {
			d.links = append(d.links, link{n, m[1]})
		}
		for _, m := range regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`).FindAllStringSubmatch(line, -1) {
			d.anchors[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// anchor is the id GitHub gives a heading: lower case, punctuation dropped,
// spaces to hyphens.
func anchor(heading string) string {
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Every link in every Markdown file of the repository resolves inside it:
// to a file that exists, and to a heading that exists in it. Nothing links
// outside the repository (what users need is copied into docs/).
func TestEveryMarkdownLinkResolvesInsideTheRepository(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	docs := map[string]doc{}
	files := markdownFiles(t, root)
	for _, f := range files {
		docs[f] = readDoc(t, filepath.Join(root, f))
	}
	for _, f := range files {
		for _, l := range docs[f].links {
			target, frag, _ := strings.Cut(l.target, "#")
			switch {
			case strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:"):
				t.Errorf("%s:%d: %s links outside the repository", f, l.line, l.target)
				continue
			case strings.HasPrefix(target, "/"):
				t.Errorf("%s:%d: %s: use a path relative to the file", f, l.line, l.target)
				continue
			}
			path := f
			if target != "" {
				path = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(f), target)))
				if strings.HasPrefix(path, "../") {
					t.Errorf("%s:%d: %s points outside the repository", f, l.line, l.target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, path)); err != nil {
					t.Errorf("%s:%d: %s: no such file", f, l.line, l.target)
					continue
				}
			}
			if frag == "" {
				continue
			}
			d, ok := docs[path]
			if !ok {
				t.Errorf("%s:%d: %s: an anchor into a file that is not Markdown", f, l.line, l.target)
				continue
			}
			if !d.anchors[frag] {
				t.Errorf("%s:%d: %s: %s has no heading with the id %q", f, l.line, l.target, path, frag)
			}
		}
	}
}

// No Markdown file keeps a merge's conflict markers (docs/redis.md once
// did, unnoticed: Markdown renders them as text and a rule).
func TestNoMarkdownKeepsConflictMarkers(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, f := range markdownFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "<<<<<<< ") || strings.HasPrefix(line, ">>>>>>> ") || line == "=======" {
				t.Errorf("%s:%d: a merge conflict marker: %q", f, i+1, line)
			}
		}
	}
}
