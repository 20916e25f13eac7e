package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"customer", RoleCustomer, false},
		{"dialer", RoleDialer, false},
		{"analyst", RoleAnalyst, false},
		{"admin", RoleAdmin, false},
		{"", "", true},
		{"Admin", "", true},
		{" admin", "", true},
		{"root", "", true},
	}
	for _, tc := range tests {
		t.Run("parse "+tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRole(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseRole(%q) = %q, %v", tc.in, got, err)
			}
			if got.Valid() == tc.wantErr {
				t.Fatalf("Role(%q).Valid() = %v", got, got.Valid())
			}
			if Role(tc.in).Valid() == tc.wantErr {
				t.Fatalf("Role(%q).Valid() disagrees with ParseRole", tc.in)
			}
		})
	}
}

func TestParseRoleClipsLongInputInError(t *testing.T) {
	t.Parallel()
	_, err := ParseRole(strings.Repeat("a", 10000))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error %d bytes long, want a short one", len(err.Error()))
	}
}

func TestPrincipalRoundTripsThroughContext(t *testing.T) {
	t.Parallel()
	p := &Principal{Subject: "u", Role: RoleAdmin, ExpiresAt: t0}
	got, ok := FromContext(NewContext(context.Background(), p))
	if !ok || got != p {
		t.Fatalf("FromContext = %v, %v; want the stored principal", got, ok)
	}
	if got, ok := FromContext(context.Background()); ok || got != nil {
		t.Fatalf("FromContext on a bare context = %v, %v", got, ok)
	}
	if got, ok := FromContext(NewContext(context.Background(), nil)); ok || got != nil {
		t.Fatalf("FromContext with a nil principal = %v, %v", got, ok)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   string // "" means an error is expected
	}{
		{"canonical scheme", "Bearer abc.def.ghi", "abc.def.ghi"},
		{"lower-case scheme", "bearer abc", "abc"},
		{"upper-case scheme", "BEARER abc", "abc"},
		{"several spaces after the scheme", "Bearer   abc", "abc"},
		{"surrounding whitespace", "  Bearer abc \t", "abc"},
		{"empty header", "", ""},
		{"whitespace only", "   ", ""},
		{"scheme only", "Bearer", ""},
		{"scheme and space only", "Bearer ", ""},
		{"no space after scheme", "Bearerabc", ""},
		{"basic scheme", "Basic dXNlcjpwYXNz", ""},
		{"token without scheme", "abc.def.ghi", ""},
		{"token with inner space", "Bearer abc def", ""},
		{"token with inner tab", "Bearer abc\tdef", ""},
		{"tab instead of space after scheme", "Bearer\tabc", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := BearerToken(tc.header)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("BearerToken(%q) = %q, want error", tc.header, got)
				}
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("error %q does not wrap ErrUnauthenticated", err)
				}
				if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "dXNlcjpwYXNz") {
					t.Fatalf("error %q leaks the credential", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("BearerToken(%q) = %q, %v; want %q", tc.header, got, err, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Issuer: "iss", Audience: "aud", HMACSecretFile: "/s"}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name     string
		cfg      Config
		wantMsgs []string // empty means valid
	}{
		{"HMAC source", ok, nil},
		{"JWKS file source", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSFile = "/j.json" }), nil},
		{"JWKS https URL", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "https://idp.example/jwks" }), nil},
		{"JWKS http URL on localhost", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "http://localhost:8080/jwks" }), nil},
		{"JWKS http URL on 127.0.0.1", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "http://127.0.0.1:9/jwks" }), nil},
		{"JWKS http URL on ::1", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "http://[::1]:9/jwks" }), nil},
		{"zero value", Config{}, []string{"Issuer is required", "Audience is required", "no key source"}},
		{"blank issuer", with(func(c *Config) { c.Issuer = " " }), []string{"Issuer is required"}},
		{"missing audience", with(func(c *Config) { c.Audience = "" }), []string{"Audience is required"}},
		{"two key sources", with(func(c *Config) { c.JWKSFile = "/j.json" }), []string{"several key sources set (JWKSFile, HMACSecretFile)"}},
		{"three key sources", with(func(c *Config) { c.JWKSFile = "/j"; c.JWKSURL = "https://x/j" }), []string{"several key sources"}},
		{"plain http URL to a remote host", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "http://idp.example/jwks" }), []string{"must use https"}},
		{"relative URL", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "/jwks" }), []string{"absolute"}},
		{"file URL", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "file:///etc/jwks" }), []string{"absolute http(s) URL"}},
		{"unparsable URL", with(func(c *Config) { c.HMACSecretFile = ""; c.JWKSURL = "https://[::1" }), []string{"not a valid URL"}},
		{"negative leeway", with(func(c *Config) { c.Leeway = -time.Second }), []string{"Leeway must not be negative"}},
		{"negative refresh interval", with(func(c *Config) { c.RefreshInterval = -time.Second }), []string{"RefreshInterval must not be negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.wantMsgs) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, m := range tc.wantMsgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}
