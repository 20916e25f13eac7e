package redistest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Without the binaries the tests fail saying what to install; they never
// skip.
func TestMissingBinariesSayWhatToInstall(t *testing.T) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(serverMissing)
	}
	onlyServer := t.TempDir()
	if err := os.Symlink(server, filepath.Join(onlyServer, "redis-server")); err != nil {
		t.Fatal(err)
	}

	t.Setenv("PATH", t.TempDir())
	if _, err := startServer(t.TempDir(), Options{}, plainServer); err == nil || err.Error() != serverMissing {
		t.Errorf("startServer without redis-server: %v, want %q", err, serverMissing)
	}
	if _, err := startCluster(func() (string, error) { return t.TempDir(), nil }); err == nil || err.Error() != serverMissing {
		t.Errorf("startCluster without redis-server: %v, want %q", err, serverMissing)
	}
	if _, err := startSentinelSet("m", func() (string, error) { return t.TempDir(), nil }); err == nil || err.Error() != serverMissing {
		t.Errorf("startSentinelSet without redis-server: %v, want %q", err, serverMissing)
	}
	t.Setenv("PATH", onlyServer)
	if _, err := startCluster(func() (string, error) { return t.TempDir(), nil }); err == nil || err.Error() != cliMissing {
		t.Errorf("startCluster without redis-cli: %v, want %q", err, cliMissing)
	}
}
