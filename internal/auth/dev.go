package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/internal/secretfile"
)

// The embedded development issuer: a local instance verifies HS256 tokens
// signed with a secret kept in its data directory.
const (
	DevIssuer   = "callverify-dev"
	DevAudience = "callverify"
)

// MinHMACSecretLength is the shortest HS256 secret accepted, in bytes.
const MinHMACSecretLength = 32

const (
	devSecretFile   = "dev-issuer.key"
	devSecretLength = 32
	minMintTTL      = time.Minute
	maxMintTTL      = 30 * 24 * time.Hour
	defaultMintTTL  = time.Hour
)

// LoadHMACSecret reads a raw HS256 secret file (bytes used as they are) and
// checks that no other user can read or change it and that it is at least
// MinHMACSecretLength bytes long.
func LoadHMACSecret(path string) ([]byte, error) {
	secret, err := secretfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("auth: reading HMAC secret file: %w", err)
	}
	if len(secret) < MinHMACSecretLength {
		return nil, fmt.Errorf("auth: HMAC secret file %s holds %d bytes, at least %d are required", path, len(secret), MinHMACSecretLength)
	}
	return secret, nil
}

// EnsureDevSecret returns the path of dataDir/dev-issuer.key, creating it
// (32 random bytes, with secretfile.Write) when it does not exist. dataDir
// is created 0700 if missing and refused if other users may enter it.
// Several processes may race: one creates the secret, the others read it.
func EnsureDevSecret(dataDir string) (string, error) {
	if dataDir == "" {
		return "", errors.New("auth: EnsureDevSecret: empty data directory")
	}
	if err := secretfile.EnsureDir(dataDir); err != nil {
		return "", fmt.Errorf("auth: data directory: %w", err)
	}
	path := filepath.Join(dataDir, devSecretFile)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, devSecretLength)
		if _, err := rand.Read(secret); err != nil {
			return "", fmt.Errorf("auth: generating dev secret: %w", err)
		}
		if err := secretfile.Write(path, secret); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("auth: creating dev secret: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("auth: dev secret: %w", err)
	}
	if _, err := LoadHMACSecret(path); err != nil {
		return "", fmt.Errorf("%w (delete it to have a new one generated)", err)
	}
	return path, nil
}

// MintOptions describes a development token.
type MintOptions struct {
	Subject     string
	Role        Role
	PhoneNumber string        // required for RoleCustomer; included whenever set
	TTL         time.Duration // 1m..30d; 0 means 1h
	Now         func() time.Time
}

// Mint signs an HS256 token with secret for DevIssuer/DevAudience, carrying
// iss, aud, sub, role, phone_number (if set), iat, nbf, exp and a random
// jti. It rejects an invalid role, an empty subject, a customer without a
// phone number, a TTL outside 1m..30d and a secret shorter than
// MinHMACSecretLength.
func Mint(secret []byte, opt MintOptions) (string, error) {
	if len(secret) < MinHMACSecretLength {
		return "", fmt.Errorf("auth: mint: secret is %d bytes, at least %d are required", len(secret), MinHMACSecretLength)
	}
	if !opt.Role.Valid() {
		return "", fmt.Errorf("auth: mint: unknown role %q (want customer, dialer, analyst or admin)", clip(string(opt.Role)))
	}
	if strings.TrimSpace(opt.Subject) == "" {
		return "", errors.New("auth: mint: subject is required")
	}
	if opt.Role == RoleCustomer && opt.PhoneNumber == "" {
		return "", errors.New("auth: mint: a customer token needs a phone number")
	}
	ttl := opt.TTL
	if ttl == 0 {
		ttl = defaultMintTTL
	}
	if ttl < minMintTTL || ttl > maxMintTTL {
		return "", fmt.Errorf("auth: mint: TTL %s is outside %s..%s", ttl, minMintTTL, maxMintTTL)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	issued := now().Truncate(time.Second)

	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    DevIssuer,
			Subject:   opt.Subject,
			Audience:  jwt.ClaimStrings{DevAudience},
			ExpiresAt: jwt.NewNumericDate(issued.Add(ttl)),
			NotBefore: jwt.NewNumericDate(issued),
			IssuedAt:  jwt.NewNumericDate(issued),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		Role:        string(opt.Role),
		PhoneNumber: opt.PhoneNumber,
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return token, nil
}
