// Package hmackeys is the list of keys that turn customers' identities into
// store keys (HMAC-SHA256), so that the key can rotate: the first key
// writes, every key is tried when reading. The bbolt store's reporter
// pseudonyms and the Redis stores' keys share it.
//
// It never logs or prints a key, and holds no key in package state.
package hmackeys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/callverify/callverify/internal/secretfile"
)

// MinKeyLen is the shortest key a Ring accepts.
const MinKeyLen = 32

// Ring is an ordered, non-empty list of HMAC keys. The zero Ring has no
// key and Sum panics on it: build one with New, Load or Derive.
type Ring struct {
	keys [][]byte
}

// New returns a ring of keys, the first writing. Each key must have at
// least MinKeyLen bytes, and no key may appear twice.
func New(keys ...[]byte) (Ring, error) {
	if len(keys) == 0 {
		return Ring{}, errors.New("no HMAC key")
	}
	r := Ring{keys: make([][]byte, len(keys))}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return Ring{}, fmt.Errorf("HMAC key %d has %d bytes, want at least %d", i+1, len(k), MinKeyLen)
		}
		for j := range i {
			if bytes.Equal(r.keys[j], k) {
				return Ring{}, fmt.Errorf("HMAC key %d repeats key %d", i+1, j+1)
			}
		}
		r.keys[i] = bytes.Clone(k)
	}
	return r, nil
}

// Derive returns the one-key ring derived from secret (the key-encryption
// key) with HKDF-SHA256 under label: the default when no key file is given.
// The same secret and label give the same key, so pseudonyms stay stable
// across restarts.
func Derive(secret []byte, label string) (Ring, error) {
	k, err := hkdf.Key(sha256.New, secret, nil, label, 32)
	if err != nil {
		return Ring{}, fmt.Errorf("derive the HMAC key: %w", err)
	}
	return New(k)
}

// Load reads a key file: one base64 key a line (standard or URL alphabet,
// padded or not; blank lines and lines starting with # are skipped), the
// first writing. The file is refused when another user could read or
// change it (secretfile.Read). Errors name the line, never its contents.
func Load(path string) (Ring, error) {
	data, err := secretfile.Read(path)
	if err != nil {
		return Ring{}, fmt.Errorf("read HMAC keys: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return Ring{}, fmt.Errorf("HMAC keys %s: %w", path, err)
	}
	return r, nil
}

// Parse reads the key file format of Load from data.
func Parse(data []byte) (Ring, error) {
	var keys [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := decode(line)
		if err != nil {
			return Ring{}, fmt.Errorf("line %d is not base64", i+1)
		}
		if len(k) < MinKeyLen {
			return Ring{}, fmt.Errorf("line %d: the key has %d bytes, want at least %d", i+1, len(k), MinKeyLen)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return Ring{}, errors.New("no key in the file: write one base64 key a line, e.g. head -c 32 /dev/urandom | base64")
	}
	return New(keys...)
}

func decode(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("not base64")
}

// Len is the number of keys.
func (r Ring) Len() int { return len(r.keys) }

// Sum is the HMAC-SHA256 of data under the first key: what is written.
func (r Ring) Sum(data []byte) []byte {
	if len(r.keys) == 0 {
		panic("hmackeys: Sum on a ring with no key")
	}
	return sum(r.keys[0], data)
}

// All is the HMAC-SHA256 of data under every key, the first key's first:
// what a lookup tries, so that what an older key wrote is still found.
func (r Ring) All(data []byte) [][]byte {
	out := make([][]byte, len(r.keys))
	for i, k := range r.keys {
		out[i] = sum(k, data)
	}
	return out
}

func sum(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}
