package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates path holding data with mode 0600 and makes both durable
// (file and directory fsynced) before it returns. If path exists it fails
// with an error wrapping fs.ErrExist and leaves the file as it was, so that
// of two processes racing to create a key exactly one wins and the other
// reads the winner's.
//
// A reader never sees a partly written file: data is written and fsynced
// under a temporary name in the same directory, then hard-linked to path
// (which fails if path exists). Where the file system has no hard links,
// path itself is created with O_EXCL. On any failure nothing is left behind.
func Write(path string, data []byte) error {
	return create(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// create is Write with the contents written by fill.
func create(path string, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // 0600, O_EXCL
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fillAndSync(tmp, fill); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create %s: %w", path, fs.ErrExist)
	default:
		// No hard links here: create the name itself. A racer may briefly
		// see a short file; the key loaders refuse one of the wrong length.
		if err := createInPlace(path, fill); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}

func createInPlace(path string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := fillAndSync(f, fill); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fillAndSync writes, fsyncs and closes f.
func fillAndSync(f *os.File, fill func(io.Writer) error) error {
	err := fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
