// Package testbin builds the repository's commands (and its pinned tools)
// for the tests that run them as processes (the daemon's kill -9 and drain
// tests, the end-to-end tests, the README's walkthrough, the deploy tests'
// kustomize), and finds them free addresses.
//
// The binaries are the go command's own: `go run -exec echo` builds a main
// package (or finds it up to date) in the Go build cache, where go run
// keeps the executables it links, and names it. A link of callverifyd costs
// seconds of CPU and the test run is CPU-bound, so every test process of a
// run, and every later run, fresh clones of the same code included, shares
// one link of each command. bin/test/ under the module's root holds a
// symbolic link to each, replaced atomically, so a test can put the
// commands on a PATH.
package testbin

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]error{} // by the build's arguments, in this process
)

// Build makes DIR/NAME run the command NAME of each main package that args
// name, and returns DIR. args are go build's flags and packages (patterns
// included), as on its command line. It builds at most once per process
// for the same args.
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
	var flags, pkgs []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			pkgs = append(pkgs, a)
		}
	}
	pkgs, err := mainPackages(root, flags, pkgs)
	if err != nil {
		return err
	}
	for _, pkg := range pkgs {
		exe, err := cachedExecutable(root, flags, pkg)
		if err != nil {
			return err
		}
		// Replace DIR/NAME at once: a process starting it meanwhile runs
		// the old binary or the new one, both whole.
		link := filepath.Join(dir, filepath.Base(exe))
		tmp := link + ".tmp" + strconv.Itoa(os.Getpid())
		os.Remove(tmp)
		if err := os.Symlink(exe, tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return nil
}

// mainPackages expands the patterns among pkgs (./cmd/...) to the main
// packages they match; go run takes one package.
func mainPackages(root string, flags, pkgs []string) ([]string, error) {
	if !slices.ContainsFunc(pkgs, func(p string) bool { return strings.Contains(p, "...") }) {
		return pkgs, nil
	}
	args := append(append([]string{"list"}, flags...), "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}")
	out, err := goCommand(root, append(args, pkgs...)...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// cachedExecutable returns the path of pkg's binary in the Go build cache,
// building it first if it is not there.
func cachedExecutable(root string, flags []string, pkg string) (string, error) {
	args := append(append([]string{"run"}, flags...), "-exec", "echo", pkg)
	// On a cache miss go run names the file it linked in its temporary
	// directory, removed when it returns; by then the binary is cached, so
	// the second answer names the cached one.
	for range 2 {
		out, err := goCommand(root, args...)
		if err != nil {
			return "", err
		}
		exe := strings.TrimSpace(string(out))
		if _, err := os.Stat(exe); err == nil {
			return exe, nil
		}
	}
	return "", fmt.Errorf("testbin: go %s names no binary that exists", strings.Join(args, " "))
}

func goCommand(root string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
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

// FreeAddr is a loopback address with a port free a moment ago (FreePort),
// for a process the test starts to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// FreePort is a loopback port free a moment ago, for a process the test
// starts to listen on. The port is below the kernel's ephemeral range, from
// which it takes the local port of every outgoing connection and of every
// listener on port 0: in a busy test run one of those could take a port
// from that range before the process binds it, and the process would fail
// to start. Below it, only another FreePort could. Never Redis's default
// ports, where the system's server may run.
func FreePort() (int, error) {
	low := ephemeralLow()
	if low < firstPort+1000 {
		// An ephemeral range that leaves no room below it: any port.
		for {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return 0, fmt.Errorf("testbin: find a free port: %w", err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			l.Close()
			if port != 6379 && port != 16379 && port != 26379 {
				return port, nil
			}
		}
	}
	for range 100 {
		port := firstPort + rand.IntN(low-firstPort)
		if port == 16379 || port == 26379 { // Redis Cluster's and Sentinel's defaults
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("testbin: no free port from %d to %d in 100 tries", firstPort, low-1)
}

// firstPort is the least port FreeAddr gives: above the well-known and
// the usual service ports.
const firstPort = 10000

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	const linuxDefault = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return linuxDefault
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return linuxDefault
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return linuxDefault
	}
	return low
}
