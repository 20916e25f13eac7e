package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testConfig is a configuration on a new private data directory, with args
// added to the command line.
func testConfig(t *testing.T, args ...string) Config {
	t.Helper()
	base := []string{"--dev", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "data")}
	cfg, err := ParseFlags("test", append(base, args...), func(string) string { return "" })
	if err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	return cfg
}

func quiet() Options { return Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))} }

func TestNewCreatesPrivateKeysInAPrivateDataDir(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a, err := New(context.Background(), cfg, quiet())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer a.Close()
	for path, want := range map[string]os.FileMode{
		cfg.DataDir:                             os.ModeDir | 0o700,
		filepath.Join(cfg.DataDir, kekFileName): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

func TestNewRefusesADataDirOthersCanEnter(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	if err := os.Mkdir(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, quiet())
	if err == nil {
		a.Close()
		t.Fatal("New accepted a data directory of mode 0755")
	}
	for _, want := range []string{cfg.DataDir, "mode 0755", "chmod 700 " + cfg.DataDir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if entries, _ := os.ReadDir(cfg.DataDir); len(entries) != 0 {
		t.Errorf("New wrote %d files into the exposed directory before refusing it", len(entries))
	}
}

func TestNewRefusesAKEKOthersCanRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		path func(cfg Config) string // where the KEK is; sets cfg.KEKFile when outside the data dir
		ext  bool
	}{
		{"the default KEK in the data directory", func(cfg Config) string { return filepath.Join(cfg.DataDir, kekFileName) }, false},
		{"a KEK file given by --kek-file", func(cfg Config) string { return filepath.Join(filepath.Dir(cfg.DataDir), "kek") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			path := tc.path(cfg)
			if tc.ext {
				cfg.KEKFile = path
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, make([]byte, 32), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			a, err := New(context.Background(), cfg, quiet())
			if err == nil {
				a.Close()
				t.Fatal("New accepted a key-encryption key of mode 0644")
			}
			for _, want := range []string{"key-encryption key", path, "mode 0644", "chmod 600 " + path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
