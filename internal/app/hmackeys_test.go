package app

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without --hmac-keys-file the one key is the one reporter pseudonyms were
// made with before the key file existed (HKDF of the KEK under the
// pseudonym label), so existing reporters stay who they were.
func TestTheDefaultHMACKeyIsTheKeyPseudonymsWereMadeWith(t *testing.T) {
	t.Parallel()
	kek := bytes.Repeat([]byte{9}, 32)
	ring, err := loadHMACKeys(Config{}, kek)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := hkdf.Key(sha256.New, kek, nil, "callverify/pseudonym-key/v1", 32)
	h := hmac.New(sha256.New, old)
	h.Write([]byte("reporter"))
	if got, want := ring.Sum([]byte("reporter")), h.Sum(nil); ring.Len() != 1 || !bytes.Equal(got, want) {
		t.Errorf("the default ring (%d keys) sums to %x, want %x under the key derived before", ring.Len(), got, want)
	}
}

func TestHMACKeysFileIsReadAndChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 48)
	path := filepath.Join(dir, "hmac.keys")
	content := base64.StdEncoding.EncodeToString(a) + "\n" + base64.StdEncoding.EncodeToString(b) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "--hmac-keys-file", path)
	ring, err := loadHMACKeys(cfg, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, a)
	h.Write([]byte("x"))
	if got, want := ring.Sum([]byte("x")), h.Sum(nil); ring.Len() != 2 || !bytes.Equal(got, want) {
		t.Errorf("ring of %d keys sums to %x, want 2 keys, the first writing (%x)", ring.Len(), got, want)
	}

	// The server refuses a key file other users may read, naming it.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := New(context.Background(), cfg, quiet())
	if err == nil {
		app.Close()
		t.Fatal("New accepted an HMAC key file of mode 0644")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod") {
		t.Errorf("error %q does not name the file and the chmod", err)
	}
}
