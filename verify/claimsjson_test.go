package verify

import (
	"encoding/json"
	"reflect"
	"testing"
)

// sameAsUnmarshal fails t unless decodeClaims, when it decodes b, gives
// what json.Unmarshal into a map gives.
func sameAsUnmarshal(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := decodeClaims(b)
	if !ok {
		return false
	}
	var want map[string]any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("decodeClaims(%q) = %v, but json.Unmarshal fails: %v", b, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeClaims(%q)\n = %#v\nwant %#v", b, got, want)
	}
	return true
}

func TestDecodeClaimsIsUnmarshal(t *testing.T) {
	own, err := canonicalJSON(passportClaims{
		Attest: "A", CRN: "退款回访", Dest: destClaim{TN: []string{"8613800138000"}}, Exp: 1893456300, Iat: 1893456000,
		Iss: "https://callverify.example", JTI: "ag4obfeyr6r7jilrfoabouo6rm", Orig: origClaim{TN: "864008008888"},
		OrigID: "9f0c3a52-5d1e-4d39-9a4b-2a7f3c2e1b6d", RCD: &rcdClaims{Nam: "客服 Customer service"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sameAsUnmarshal(t, own) {
		t.Fatalf("decodeClaims does not read our own claims %s", own)
	}
	for _, b := range []string{
		`{}`, `{"a":[]}`, `{"a":{}}`, `{"a":"x","a":"y"}`, `{"n":0}`, `{"n":1099511627776}`,
		`{"n":123456789012345678901234567890}`, `{"dest":{"tn":["8613800138000","8613900139000"]}}`, `{"s":"中文 é 😀"}`,
	} {
		if !sameAsUnmarshal(t, []byte(b)) {
			t.Errorf("decodeClaims does not read %s", b)
		}
	}
	for _, b := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":[1,]}`, `{} `, ` {}`, `{"a": 1}`,
		`{"a":01}`, `{"a":-1}`, `{"a":1.5}`, `{"a":1e3}`, `{"a":true}`, `{"a":null}`, `{"a":"\n"}`, `{"a":"\u0041"}`,
		"{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}", `{"a":{"b":{"c":{}}}}`, `{"a":[[["x"]]]}`, `{"a":1}{}`, `{"a":1e999}`,
		`{"a":123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890}`,
	} {
		sameAsUnmarshal(t, []byte(b)) // may decline; must not differ
	}
}

// FuzzDecodeClaims: whatever decodeClaims reads, it reads as json.Unmarshal.
//
//	go test -run '^$' -fuzz FuzzDecodeClaims ./verify/
func FuzzDecodeClaims(f *testing.F) {
	f.Add([]byte(`{"attest":"A","dest":{"tn":["8613800138000"]},"exp":1893456300,"iat":1893456000,"iss":"https://x","jti":"abc","orig":{"tn":"864008008888"},"origid":"u","rcd":{"nam":"客服"}}`))
	f.Add([]byte(`{"a":[1,2,{"b":"c"}],"d":0}`))
	f.Fuzz(func(t *testing.T, b []byte) { sameAsUnmarshal(t, b) })
}
