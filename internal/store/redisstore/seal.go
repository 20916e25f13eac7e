package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealer encrypts the customer data a value must give back (a call's
// callee and customer id) with the key-encryption key: AES-256-GCM, a
// random 96-bit nonce per value, and the record's id as additional data so
// that a sealed value moved to another record does not open.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(kek []byte) (sealer, error) {
	if len(kek) != 32 {
		return sealer{}, fmt.Errorf("redis store: KEK must be 32 bytes, got %d", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return sealer{}, fmt.Errorf("redis store: KEK: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, fmt.Errorf("redis store: KEK: %w", err)
	}
	return sealer{aead: aead}, nil
}

// seal returns nonce || ciphertext.
func (s sealer) seal(plain, aad []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(out, out, plain, aad)
}

var errSealed = errors.New("sealed value does not open with this KEK")

func (s sealer) open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, errSealed
	}
	plain, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}
