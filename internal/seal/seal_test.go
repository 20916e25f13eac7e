package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/callverify/callverify/internal/seal"
)

func TestSealedValuesOpenOnlyWithTheirKEKAndOwner(t *testing.T) {
	t.Parallel()
	kek, other := bytes.Repeat([]byte{1}, seal.KEKSize), bytes.Repeat([]byte{2}, seal.KEKSize)
	s, err := seal.New(kek)
	if err != nil {
		t.Fatal(err)
	}
	o, err := seal.New(other)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("+8613800138000")
	sealed := s.Seal(plain, []byte("call:a"))
	if bytes.Contains(sealed, plain) {
		t.Fatal("the sealed value holds the plain one")
	}
	if again := s.Seal(plain, []byte("call:a")); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if got, err := s.Open(sealed, []byte("call:a")); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("Open = %q, %v; want the plain value", got, err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"another owner": func() ([]byte, error) { return s.Open(sealed, []byte("call:b")) },
		"another KEK":   func() ([]byte, error) { return o.Open(sealed, []byte("call:a")) },
		"truncated":     func() ([]byte, error) { return s.Open(sealed[:10], []byte("call:a")) },
	} {
		if _, err := open(); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
	if _, err := seal.New(kek[:16]); err == nil {
		t.Error("New took a 16-byte KEK")
	}
}
