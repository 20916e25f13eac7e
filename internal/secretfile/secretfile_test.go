package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteCreatesAPrivateFileWithTheData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	if err := Write(path, []byte("secret bytes")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode(), fs.FileMode(0o600); got != want {
		t.Errorf("mode = %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(path); string(b) != "secret bytes" {
		t.Errorf("content = %q, want %q", b, "secret bytes")
	}
	wantOnly(t, dir, "k.key")
}

func TestWriteNeverReplacesAnExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	if err := Write(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Write: %v, want an error wrapping fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Errorf("content = %q, want the first writer's %q", b, "first")
	}
	wantOnly(t, dir, "k.key")
}

func TestWriteRacersLeaveExactlyOneWinner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	const racers = 16
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { errs[i] = Write(path, []byte{byte('a' + i)}) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("racer %d: %v, want nil or fs.ErrExist", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d racers created the file, want exactly 1", won)
	}
	wantOnly(t, dir, "k.key")
}

func TestWriteThatFailsLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	boom := errors.New("disk full")
	err := create(path, func(w io.Writer) error {
		if _, err := w.Write([]byte("half a ke")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("create: %v, want the fill error", err)
	}
	wantOnly(t, dir)
}

func TestWriteInPlaceThatFailsRemovesThePartialFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	boom := errors.New("disk full")
	err := createInPlace(path, func(w io.Writer) error {
		if _, err := w.Write([]byte("half a ke")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("createInPlace: %v, want the fill error", err)
	}
	wantOnly(t, dir)
}

// wantOnly checks that dir holds exactly the named entries (no temporary
// or partial files).
func wantOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %q, want exactly %q", got, names)
	}
}

func TestReadRefusesASecretOthersCanReadOrChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true},
		{0o640, false}, {0o644, false}, {0o660, false}, {0o604, false}, {0o602, false}, {0o610, false}, {0o666, false},
	} {
		path := filepath.Join(t.TempDir(), "k.key")
		if err := os.WriteFile(path, []byte("s3cret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		b, err := Read(path)
		if tc.ok {
			if err != nil || string(b) != "s3cret" {
				t.Errorf("mode %04o: Read = %q, %v; want the contents", tc.mode, b, err)
			}
			if err := CheckSecret(path); err != nil {
				t.Errorf("mode %04o: CheckSecret = %v, want nil", tc.mode, err)
			}
			continue
		}
		for _, err := range []error{err, CheckSecret(path)} {
			if err == nil {
				t.Errorf("mode %04o: accepted, want it refused", tc.mode)
				continue
			}
			msg := err.Error()
			for _, want := range []string{path, "has mode " + octal(tc.mode), "chmod 600 " + path} {
				if !strings.Contains(msg, want) {
					t.Errorf("mode %04o: error %q does not say %q", tc.mode, msg, want)
				}
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("mode %04o: error %q shows the secret", tc.mode, msg)
			}
		}
	}
}

func octal(m fs.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

func TestSecretAllowedOnlyGroupReadOfAFileAnotherUserShares(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		perm        fs.FileMode
		own, shared bool
		want        bool
	}{
		{0o600, true, false, true},
		{0o640, true, false, false}, // ours: the owner bits suffice, the group has no business
		{0o440, false, true, true},  // a Kubernetes Secret for the pod's fsGroup
		{0o640, false, true, true},
		{0o660, false, true, false}, // the group could change it
		{0o644, false, true, false}, // everyone can read it
		{0o640, false, false, false},
		{0o400, false, false, true}, // unreadable to us, but not exposed either
	} {
		if got := secretAllowed(tc.perm, tc.own, tc.shared); got != tc.want {
			t.Errorf("secretAllowed(%04o, own=%v, shared=%v) = %v, want %v", tc.perm, tc.own, tc.shared, got, tc.want)
		}
	}
}

func TestCheckPublicRefusesAFileOthersCanChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{{0o644, true}, {0o600, true}, {0o444, true}, {0o664, false}, {0o646, false}, {0o666, false}} {
		path := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckPublic(path)
		if tc.ok != (err == nil) {
			t.Errorf("mode %04o: CheckPublic = %v, want ok=%v", tc.mode, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod go-w "+path) {
			t.Errorf("mode %04o: error %q does not say how to fix it", tc.mode, err)
		}
	}
}

func TestEnsureDirCreatesAPrivateDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "data")
	if err := EnsureDir(dir); err != nil {
		t.Fatalf("EnsureDir: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(0o700); got != want {
		t.Errorf("mode = %v, want %v", got, want)
	}
	if err := EnsureDir(dir); err != nil {
		t.Errorf("EnsureDir on the directory it made: %v", err)
	}
}

func TestEnsureDirRefusesADirectoryOthersCanEnter(t *testing.T) {
	t.Parallel()
	for _, mode := range []fs.FileMode{0o750, 0o755, 0o770, 0o701, 0o777} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		err := EnsureDir(dir)
		if err == nil {
			t.Errorf("mode %04o: accepted, want it refused", mode)
			continue
		}
		for _, want := range []string{dir, "has mode " + octal(mode), "chmod 700 " + dir} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %04o: error %q does not say %q", mode, err, want)
			}
		}
	}
}
