package verify

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestReadClaimsRequiresTheCallTokenShape(t *testing.T) {
	t.Parallel()
	s := &Service{issuer: "callverify"}
	good := func() jwt.MapClaims {
		return jwt.MapClaims{
			"attest": "A", "exp": float64(2000000000), "iat": float64(1900000000), "iss": "callverify",
			"jti": "abc", "orig": map[string]any{"tn": "8657188881234"},
			"dest": map[string]any{"tn": []any{"8613800138000"}}, "origid": "x",
		}
	}
	if _, ok := s.readClaims(good()); !ok {
		t.Fatal("good claims refused")
	}
	tests := map[string]func(jwt.MapClaims){
		"no exp":          func(m jwt.MapClaims) { delete(m, "exp") },
		"string exp":      func(m jwt.MapClaims) { m["exp"] = "2000000000" },
		"negative exp":    func(m jwt.MapClaims) { m["exp"] = float64(-1) },
		"no iat":          func(m jwt.MapClaims) { delete(m, "iat") },
		"no jti":          func(m jwt.MapClaims) { delete(m, "jti") },
		"other issuer":    func(m jwt.MapClaims) { m["iss"] = "someone-else" },
		"no orig":         func(m jwt.MapClaims) { delete(m, "orig") },
		"orig tn list":    func(m jwt.MapClaims) { m["orig"] = map[string]any{"tn": []any{"1"}} },
		"dest tn string":  func(m jwt.MapClaims) { m["dest"] = map[string]any{"tn": "1"} },
		"empty dest":      func(m jwt.MapClaims) { m["dest"] = map[string]any{"tn": []any{}} },
		"dest tn numbers": func(m jwt.MapClaims) { m["dest"] = map[string]any{"tn": []any{float64(1)}} },
	}
	for name, edit := range tests {
		m := good()
		edit(m)
		if _, ok := s.readClaims(m); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}
