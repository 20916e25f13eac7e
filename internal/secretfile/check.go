package secretfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Read returns the contents of a secret file after checking, on the open
// file, that no user but this process's could read or change it (see
// CheckSecret).
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := secretMode(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// CheckSecret refuses a secret file that another user could read or change:
// any permission for others, group write or execute, and group read unless
// the file belongs to another user who shares it with a group of this
// process (how Kubernetes mounts a Secret for the pod's fsGroup, and how
// Debian shares private keys through the ssl-cert group). The error names
// the path, its mode and the chmod that fixes it.
func CheckSecret(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return secretMode(path, fi)
}

func secretMode(path string, fi fs.FileInfo) error {
	perm := fi.Mode().Perm()
	own := ownedByUs(fi)
	shared := !own && inOurGroups(fi)
	if secretAllowed(perm, own, shared) {
		return nil
	}
	fix := "chmod 600 " + path
	switch {
	case shared:
		fix = "chmod 640 " + path
	case !own:
		fix = "chown it to the user callverifyd runs as, then chmod 600 " + path
	}
	return fmt.Errorf("secret file %s has mode %04o, so %s; fix it with: %s", path, perm, exposure(perm), fix)
}

// secretAllowed says whether a secret file with permissions perm may be
// used: owned by this process's user (own) or by another user sharing it
// with one of this process's groups (shared).
func secretAllowed(perm fs.FileMode, own, shared bool) bool {
	allowed := fs.FileMode(0)
	if shared {
		allowed = 0o040
	}
	return perm&0o077&^allowed == 0
}

func exposure(perm fs.FileMode) string {
	switch {
	case perm&0o007 != 0:
		return "every user of this machine may read or change it"
	case perm&0o020 != 0:
		return "the users of its group may change it"
	default:
		return "the users of its group may read it"
	}
}

// CheckPublic refuses a file whose contents are public but must not be
// changed by anyone but its owner, such as a JWKS of an identity
// provider's public keys: whoever can write it can sign bearer tokens.
func CheckPublic(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s has mode %04o, so users other than its owner may change it; fix it with: chmod go-w %s", path, perm, path)
	}
	return nil
}

// EnsureDir creates dir (and its parents) with mode 0700 when missing, and
// refuses it when its group or other users have any permission on it: the
// directory holds the store and keys.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("directory %s has mode %04o, so other users may read or change what it holds; fix it with: chmod 700 %s", dir, perm, dir)
	}
	return nil
}
