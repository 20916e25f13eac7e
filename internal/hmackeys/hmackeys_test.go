package hmackeys_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/hmackeys"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestTheFirstKeyWritesAndEveryKeyIsRead(t *testing.T) {
	t.Parallel()
	r, err := hmackeys.New(key(1), key(2))
	if err != nil {
		t.Fatal(err)
	}
	mac := func(k []byte) []byte { h := hmac.New(sha256.New, k); h.Write([]byte("x")); return h.Sum(nil) }
	if got, want := r.Sum([]byte("x")), mac(key(1)); !bytes.Equal(got, want) {
		t.Errorf("Sum = %x, want the first key's HMAC %x", got, want)
	}
	all := r.All([]byte("x"))
	if len(all) != 2 || !bytes.Equal(all[0], mac(key(1))) || !bytes.Equal(all[1], mac(key(2))) {
		t.Errorf("All = %x, want the HMACs under key 1 then key 2", all)
	}
}

func TestDeriveIsTheHKDFOfTheSecretUnderTheLabel(t *testing.T) {
	t.Parallel()
	secret := key(7)
	r, err := hmackeys.Derive(secret, "label/v1")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := hkdf.Key(sha256.New, secret, nil, "label/v1", 32)
	want, _ := hmackeys.New(k)
	if !bytes.Equal(r.Sum([]byte("n")), want.Sum([]byte("n"))) || r.Len() != 1 {
		t.Error("Derive is not the one key HKDF-SHA256(secret, label)")
	}
}

func TestLoadReadsOneBase64KeyALine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b64 := base64.StdEncoding.EncodeToString
	good := write("good", "# newest first\n"+b64(key(1))+"\n\n"+base64.RawURLEncoding.EncodeToString(key(2))+"\n", 0o600)
	r, err := hmackeys.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hmackeys.New(key(1), key(2))
	if r.Len() != 2 || !bytes.Equal(r.All([]byte("a"))[1], want.All([]byte("a"))[1]) || !bytes.Equal(r.Sum([]byte("a")), want.Sum([]byte("a"))) {
		t.Error("Load did not read key 1 then key 2")
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"short", b64(key(1)) + "\n" + b64([]byte("too short")) + "\n", 0o600, "line 2: the key has 9 bytes, want at least 32"},
		{"garbage", "not base64!\n", 0o600, "line 1 is not base64"},
		{"empty", "# nothing\n", 0o600, "no key in the file"},
		{"repeated", b64(key(1)) + "\n" + b64(key(1)) + "\n", 0o600, "HMAC key 2 repeats key 1"},
		{"readable", b64(key(1)) + "\n", 0o644, "chmod"},
	} {
		_, err := hmackeys.Load(write(tc.name, tc.content, tc.mode))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, want an error saying %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), b64(key(1))) {
			t.Errorf("%s: the error shows a key: %v", tc.name, err)
		}
	}
}
