package redistest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// The messages of a missing binary say what to install.
const (
	serverMissing = "redis-server not found: apt-get install redis-server (see .ci/run)"
	cliMissing    = "redis-cli not found: apt-get install redis-tools (see .ci/run)"
)

// sharedServers are the servers of one test binary, started on first use
// and stopped by Main after the last test. This is the package's only
// state: it lives exactly as long as the test binary, which is the point.
type sharedServers struct {
	mainCalled atomic.Bool
	prefixes   atomic.Int64

	standaloneOnce sync.Once
	standalone     *Server
	standaloneErr  error

	clusterOnce sync.Once
	cluster     *ClusterServers
	clusterErr  error

	sentinelOnce sync.Once
	sentinel     *SentinelSet
	sentinelErr  error
}

// sharedMasterName is the master name of the shared Sentinel deployment.
const sharedMasterName = "redistest"

var shared sharedServers

// Main runs the tests of a package that uses Standalone or Cluster, then
// stops the shared servers and exits. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	shared.mainCalled.Store(true)
	code := m.Run()
	if err := shared.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// stop is called once, after every test has ended: the Once fields are
// read without a race because m.Run has returned.
func (s *sharedServers) stop() error {
	var errs []error
	if s.standalone != nil {
		errs = append(errs, s.standalone.stop(), os.RemoveAll(s.standalone.dir))
	}
	if s.cluster != nil {
		for _, n := range s.cluster.nodes {
			errs = append(errs, n.stop(), os.RemoveAll(n.dir))
		}
	}
	if s.sentinel != nil {
		errs = append(errs, s.sentinel.stop())
		for _, n := range s.sentinel.all() {
			errs = append(errs, os.RemoveAll(n.dir))
		}
	}
	return errors.Join(errs...)
}

func requireMain(t testing.TB) {
	t.Helper()
	if !shared.mainCalled.Load() {
		t.Fatal("redistest: the shared servers need func TestMain(m *testing.M) { redistest.Main(m) } in this package, which stops them after the last test")
	}
}

// Standalone returns the test binary's shared standalone server (no
// persistence), starting it on first use. Isolate keys with Prefix; to
// stop or restart a server, or to persist, use NewServer.
func Standalone(t testing.TB) *Server {
	t.Helper()
	requireMain(t)
	shared.standaloneOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			shared.standaloneErr = err
			return
		}
		shared.standalone, shared.standaloneErr = startServer(dir, Options{}, plainServer)
		if shared.standaloneErr != nil {
			os.RemoveAll(dir)
		}
		if shared.standalone != nil {
			shared.standalone.shared = true
		}
	})
	if shared.standaloneErr != nil {
		t.Fatal(shared.standaloneErr)
	}
	return shared.standalone
}

// Cluster returns the test binary's shared three-master Redis Cluster,
// creating it on first use. Isolate keys with Prefix.
func Cluster(t testing.TB) *ClusterServers {
	t.Helper()
	requireMain(t)
	shared.clusterOnce.Do(func() {
		shared.cluster, shared.clusterErr = startCluster(func() (string, error) { return os.MkdirTemp("", "redistest-") })
		if shared.cluster != nil {
			for _, n := range shared.cluster.nodes {
				n.shared = true
			}
		}
	})
	if shared.clusterErr != nil {
		t.Fatal(shared.clusterErr)
	}
	return shared.cluster
}

// Sentinel returns the test binary's shared Sentinel deployment (a master,
// its replica and three sentinels, master name "redistest"), starting it on
// first use. Isolate keys with Prefix; to kill its master, use NewSentinel.
func Sentinel(t testing.TB) *SentinelSet {
	t.Helper()
	requireMain(t)
	shared.sentinelOnce.Do(func() {
		shared.sentinel, shared.sentinelErr = startSentinelSet(sharedMasterName, func() (string, error) { return os.MkdirTemp("", "redistest-") })
		if shared.sentinel != nil {
			for _, n := range shared.sentinel.all() {
				n.shared = true
			}
		}
	})
	if shared.sentinelErr != nil {
		t.Fatal(shared.sentinelErr)
	}
	return shared.sentinel
}

// Prefix returns a key prefix no other test of this binary gets, such as
// "t12:". It holds no hash tag, so a store may add its own.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("t%d:", shared.prefixes.Add(1))
}
