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

// Strings come out as RFC 8785 writes them: only '"', '\\' and control
// characters escaped; an escaped backslash before "u2028" stays as it is.
func TestCanonicalJSONWritesStringsAsRFC8785(t *testing.T) {
	t.Parallel()
	got, err := canonicalJSON(map[string]any{
		"d": "\x01\n\t", "c": "&<>", "b": `\u2028`, "a": "x\u2028y\u2029z", "e": int64(1900000000),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"x` + "\u2028" + `y` + "\u2029" + `z","b":"\\u2028","c":"&<>","d":"\u0001\n\t","e":1900000000}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
