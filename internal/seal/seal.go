// Package seal encrypts values at rest with the key-encryption key (KEK):
// AES-256-GCM, a random 96-bit nonce per value, and the owner's id as
// additional data, so that a sealed value moved to another record does not
// open. Every store and domain that keeps a secret or a customer's number
// sealed uses it, so there is one format. It must never log or return a
// plain value in an error.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KEKSize is the key-encryption key's length in bytes.
const KEKSize = 32

// ErrOpen says that a sealed value does not open: another KEK, other
// additional data, or damaged bytes.
var ErrOpen = errors.New("sealed value does not open with this KEK")

// Sealer seals and opens values with one KEK. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for kek, which must be KEKSize bytes.
func New(kek []byte) (*Sealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("KEK must be %d bytes, got %d", KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("KEK: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("KEK: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce || ciphertext of plain, bound to aad.
func (s *Sealer) Seal(plain, aad []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(out, out, plain, aad)
}

// Open returns the plain value of sealed, or ErrOpen.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
