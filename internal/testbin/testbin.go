// Package testbin builds the repository's commands for the tests that run
// them as processes (the daemon's kill -9 and drain tests, the end-to-end
// tests, the README's walkthrough), and finds them free addresses.
//
// The binaries go to bin/test/ under the module's root, one directory for
// every test process of the checkout: go build leaves a binary alone when
// its build ID says it is up to date, so the packages of one `go test ./...`
// share one link of each command instead of linking it again each (a link
// of callverifyd costs seconds of CPU, and the test run is CPU-bound). A
// lock file serializes the builds of concurrent test processes, so none
// runs a binary another is writing.
package testbin

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]error{} // by the build's arguments, in this process
)

// Build runs `go build -o DIR/ args...` in the module's root, at most once
// per process for the same args, and returns DIR. args are go build's flags
// and packages, as on its command line.
func Build(args ...string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "bin", "test")
	key := strings.Join(args, "\x00")
	mu.Lock()
	defer mu.Unlock()
	if err, ok := built[key]; ok {
		return dir, err
	}
	err = build(root, dir, args)
	built[key] = err
	return dir, err
}

// For is Build for a test: it fails t when the build fails.
func For(t testing.TB, args ...string) string {
	t.Helper()
	dir, err := Build(args...)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func build(root, dir string, args []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("testbin: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testbin: go env GOMOD: %w", err)
	}
	gomod := string(bytes.TrimSpace(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("testbin: not inside the callverify module")
	}
	return filepath.Dir(gomod), nil
}

// FreeAddr is a loopback address with a port free a moment ago, for a
// process the test starts to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
