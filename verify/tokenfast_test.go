package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/verify"
)

// TestOurTokensAreCheckedWithoutDecodingTheirHeader: a token whose header
// is byte for byte one our key writes is checked by the short path, which
// gives the jwt parser's answer and claims; any other token is left to
// the parser (the short path declines), and VerifyToken's verdicts stay
// those of the parser.
func TestOurTokensAreCheckedWithoutDecodingTheirHeader(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withAlg(alg))
			ctx := context.Background()
			st := e.stamp(outbound, aliceRaw)
			parts := strings.Split(st.Token, ".")
			otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tampered := decodeSegment(t, st.Token, 1)
			tampered["jti"] = "someone-elses-call"
			// The same header members in another order: other bytes.
			reordered := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"passport","ppt":"shaken","kid":"` + kidOf(t, st.Token) + `","alg":"` + alg + `"}`))
			enc := func(m map[string]any) string { return base64.RawURLEncoding.EncodeToString([]byte(mustJSON(t, m))) }

			for _, tc := range []struct {
				name     string
				token    string
				short    bool // the short path answers
				want     verify.TokenFailure
				wantFrom string // "" or the token whose claims come back
			}{
				{"genuine", st.Token, true, verify.TokenValid, st.Token},
				{"tampered claims", parts[0] + "." + enc(tampered) + "." + parts[2], true, verify.TokenBadSignature, ""},
				{"flipped signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), true, verify.TokenBadSignature, ""},
				{"short signature", parts[0] + "." + parts[1] + "." + parts[2][:20], true, verify.TokenBadSignature, ""},
				{"header reordered", reordered + "." + parts[1] + "." + parts[2], false, verify.TokenBadSignature, ""},
				{"signed by another key, our header bytes", resign(t, st.Token, jwt.SigningMethodES256, otherKey, nil, nil), alg == verify.AlgES256, verify.TokenBadSignature, ""},
				{"claims not base64", parts[0] + ".!!." + parts[2], false, verify.TokenMalformed, ""},
				{"claims not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[2], false, verify.TokenMalformed, ""},
				{"claims a JSON array", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + "." + parts[2], false, verify.TokenMalformed, ""},
				{"signature not base64", parts[0] + "." + parts[1] + ".!!", false, verify.TokenMalformed, ""},
				{"four parts", st.Token + ".x", false, verify.TokenMalformed, ""},
				{"two parts", parts[0] + "." + parts[1], false, verify.TokenMalformed, ""},
			} {
				gotClaims, got, short, err := e.svc.ParseOursForTest(ctx, tc.token)
				if err != nil {
					t.Fatalf("%s: short path: %v", tc.name, err)
				}
				anyClaims, anyGot, err := e.svc.ParseAnyForTest(ctx, tc.token)
				if err != nil {
					t.Fatalf("%s: parser: %v", tc.name, err)
				}
				if short != tc.short {
					t.Errorf("%s: short path answered %v, want %v", tc.name, short, tc.short)
				}
				if anyGot != tc.want {
					t.Errorf("%s: parser says %v, want %v", tc.name, anyGot, tc.want)
				}
				if short && (got != anyGot || !reflect.DeepEqual(gotClaims, anyClaims)) {
					t.Errorf("%s: short path says %v %v, the parser %v %v", tc.name, got, gotClaims, anyGot, anyClaims)
				}
				if tc.wantFrom != "" && !reflect.DeepEqual(gotClaims, decodeSegment(t, tc.wantFrom, 1)) {
					t.Errorf("%s: claims %v, want the token's", tc.name, gotClaims)
				}
				tr, err := e.svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: tc.token})
				if err != nil {
					t.Fatalf("%s: VerifyToken: %v", tc.name, err)
				}
				if tr.Failure != tc.want {
					t.Errorf("%s: VerifyToken says %v, want %v", tc.name, tr.Failure, tc.want)
				}
			}
		})
	}
}
