package auth

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestEnsureDevSecretCreatesPrivateFileOnce(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data", "nested")

	path, err := EnsureDevSecret(dataDir)
	if err != nil {
		t.Fatalf("EnsureDevSecret: %v", err)
	}
	if want := filepath.Join(dataDir, "dev-issuer.key"); path != want {
		t.Fatalf("path = %q, want %q", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", fi.Mode().Perm())
	}
	if fi.Size() != 32 {
		t.Errorf("secret file holds %d bytes, want 32", fi.Size())
	}
	di, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, want 0700", di.Mode().Perm())
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	path2, err := EnsureDevSecret(dataDir)
	if err != nil {
		t.Fatalf("second EnsureDevSecret: %v", err)
	}
	second, err := os.ReadFile(path2)
	if err != nil {
		t.Fatal(err)
	}
	if path2 != path || !bytes.Equal(first, second) {
		t.Fatal("second call changed the path or the secret")
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key (temporary files left behind?)", len(entries))
	}
}

func TestEnsureDevSecretRacersAgreeOnOneSecret(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	const racers = 16
	secrets := make([][]byte, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			path, err := EnsureDevSecret(dataDir)
			if err != nil {
				errs[i] = err
				return
			}
			secrets[i], errs[i] = os.ReadFile(path)
		})
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if !bytes.Equal(secrets[i], secrets[0]) || len(secrets[i]) != 32 {
			t.Fatalf("racer %d read a different or short secret", i)
		}
	}
}

func TestEnsureDevSecretRejectsTruncatedFile(t *testing.T) {
	t.Parallel()
	dataDir := privateDir(t)
	if err := os.WriteFile(filepath.Join(dataDir, "dev-issuer.key"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := EnsureDevSecret(dataDir)
	if err == nil || !strings.Contains(err.Error(), "at least 32") || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("error %v, want a short-secret error telling the user to delete the file", err)
	}
}

func TestEnsureDevSecretRejectsEmptyDir(t *testing.T) {
	t.Parallel()
	if _, err := EnsureDevSecret(""); err == nil {
		t.Fatal("EnsureDevSecret(\"\") succeeded")
	}
}

func TestMintedTokenVerifiesWithDevConfig(t *testing.T) {
	t.Parallel()
	path, err := EnsureDevSecret(privateDir(t))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := LoadHMACSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	v, err := NewVerifier(context.Background(), Config{
		Issuer: DevIssuer, Audience: DevAudience, HMACSecretFile: path, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		opt  MintOptions
		want Principal
	}{
		{
			name: "customer with phone",
			opt:  MintOptions{Subject: "cust-7", Role: RoleCustomer, PhoneNumber: "+442071838750", Now: clock.Now},
			want: Principal{Subject: "cust-7", Role: RoleCustomer, PhoneNumber: "+442071838750", ExpiresAt: t0.Add(time.Hour)},
		},
		{
			name: "analyst with custom TTL",
			opt:  MintOptions{Subject: "ana", Role: RoleAnalyst, TTL: 24 * time.Hour, Now: clock.Now},
			want: Principal{Subject: "ana", Role: RoleAnalyst, ExpiresAt: t0.Add(24 * time.Hour)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token, err := Mint(secret, tc.opt)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			p, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if *p != tc.want {
				t.Fatalf("principal = %+v, want %+v", *p, tc.want)
			}
		})
	}
}

func TestMintedTokenStopsVerifyingAfterTTL(t *testing.T) {
	t.Parallel()
	k := getKeys()
	clock := newClock()
	v, err := NewVerifier(context.Background(), Config{
		Issuer: DevIssuer, Audience: DevAudience, HMACSecretFile: writeFile(t, "s", k.hmacSecret), Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	token, err := Mint(k.hmacSecret, MintOptions{Subject: "d", Role: RoleDialer, TTL: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, v, token)
	clock.Advance(time.Minute + DefaultLeeway)
	_, err = v.Verify(context.Background(), token)
	wantUnauthenticated(t, err)
}

func TestMintWritesTheDocumentedClaims(t *testing.T) {
	t.Parallel()
	k := getKeys()
	mint := func() jwt.MapClaims {
		token, err := Mint(k.hmacSecret, MintOptions{Subject: "s", Role: RoleCustomer, PhoneNumber: "+15550100", Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		c := jwt.MapClaims{}
		tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).
			ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return k.hmacSecret, nil })
		if err != nil {
			t.Fatal(err)
		}
		if tok.Method.Alg() != "HS256" {
			t.Fatalf("alg %s", tok.Method.Alg())
		}
		return c
	}
	c := mint()
	want := map[string]any{
		"iss": DevIssuer, "sub": "s", "role": "customer", "phone_number": "+15550100",
		"iat": float64(t0.Unix()), "nbf": float64(t0.Unix()), "exp": float64(t0.Add(time.Hour).Unix()),
	}
	for name, w := range want {
		if c[name] != w {
			t.Errorf("claim %s = %v, want %v", name, c[name], w)
		}
	}
	if aud, _ := c.GetAudience(); len(aud) != 1 || aud[0] != DevAudience {
		t.Errorf("aud = %v, want [%s]", aud, DevAudience)
	}
	jti, _ := c["jti"].(string)
	if len(jti) < 16 {
		t.Errorf("jti %q is missing or short", jti)
	}
	if other, _ := mint()["jti"].(string); other == jti {
		t.Errorf("two tokens share jti %q", jti)
	}

	admin, err := Mint(k.hmacSecret, MintOptions{Subject: "s", Role: RoleAdmin, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(decodePayload(t, admin), "phone_number") {
		t.Error("admin token without phone carries a phone_number claim")
	}
}

func decodePayload(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := jwt.NewParser().DecodeSegment(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMintRejectsBadOptions(t *testing.T) {
	t.Parallel()
	k := getKeys()
	tests := []struct {
		name    string
		secret  []byte
		opt     MintOptions
		wantMsg string
	}{
		{"short secret", make([]byte, 31), MintOptions{Subject: "s", Role: RoleAdmin}, "at least 32"},
		{"missing role", k.hmacSecret, MintOptions{Subject: "s"}, "unknown role"},
		{"unknown role", k.hmacSecret, MintOptions{Subject: "s", Role: "root"}, "unknown role"},
		{"empty subject", k.hmacSecret, MintOptions{Role: RoleAdmin}, "subject is required"},
		{"blank subject", k.hmacSecret, MintOptions{Subject: " ", Role: RoleAdmin}, "subject is required"},
		{"customer without phone", k.hmacSecret, MintOptions{Subject: "s", Role: RoleCustomer}, "phone number"},
		{"TTL under a minute", k.hmacSecret, MintOptions{Subject: "s", Role: RoleAdmin, TTL: 59 * time.Second}, "TTL"},
		{"TTL over 30 days", k.hmacSecret, MintOptions{Subject: "s", Role: RoleAdmin, TTL: 30*24*time.Hour + time.Second}, "TTL"},
		{"negative TTL", k.hmacSecret, MintOptions{Subject: "s", Role: RoleAdmin, TTL: -time.Hour}, "TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token, err := Mint(tc.secret, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Mint = %q, %v; want error mentioning %q", token, err, tc.wantMsg)
			}
		})
	}
}

func TestMintAcceptsTTLBounds(t *testing.T) {
	t.Parallel()
	k := getKeys()
	for _, ttl := range []time.Duration{time.Minute, 30 * 24 * time.Hour} {
		if _, err := Mint(k.hmacSecret, MintOptions{Subject: "s", Role: RoleAdmin, TTL: ttl}); err != nil {
			t.Errorf("TTL %s: %v", ttl, err)
		}
	}
}

func TestLoadHMACSecretRefusesAFileOthersCanRead(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "secret", getKeys().hmacSecret)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadHMACSecret(path)
	if err == nil || !strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("LoadHMACSecret of a 0644 file: %v, want a refusal naming the mode and the fix", err)
	}
	_, err = NewVerifier(context.Background(), Config{Issuer: "i", Audience: "a", HMACSecretFile: path})
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("NewVerifier with a 0644 secret: %v, want the same refusal", err)
	}
}

func TestEnsureDevSecretRefusesADataDirOthersCanEnter(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := EnsureDevSecret(dataDir)
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+dataDir) {
		t.Fatalf("EnsureDevSecret in a 0755 directory: %v, want a refusal saying chmod 700", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "dev-issuer.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a secret was written into the exposed directory (stat: %v)", err)
	}
}

func TestEnsureDevSecretRefusesASecretOthersCanRead(t *testing.T) {
	t.Parallel()
	dataDir := privateDir(t)
	path, err := EnsureDevSecret(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDevSecret(dataDir); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("EnsureDevSecret with a 0640 secret: %v, want a refusal saying chmod 600", err)
	}
}
