package calltoken_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/docs/examples/calltoken"
	"github.com/callverify/callverify/internal/testenv"
)

// The Go block of docs/integration.md is this package's calltoken.go, as it
// is: the doc cannot show code that is not the code tested here.
func TestIntegrationDocShowsThisFile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("calltoken.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../integration.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(src)+"```\n") {
		t.Error("docs/integration.md has no ```go block equal to docs/examples/calltoken/calltoken.go: copy the file into it")
	}
}

// A token a real server stamped verifies offline with the doc's code and
// the keys of the server's JWKS, fetched by keyfunc; each strict check
// refuses what it should.
func TestVerifyACallTokenTheServerStamped(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	admin, dialer := e.Admin(), e.Dialer()
	if r := e.Do("POST", "/v1/official-numbers", admin,
		`{"number":"400-800-8888","displayName":"Customer service","direction":"DIRECTION_OUTBOUND"}`); r.Status != 200 {
		t.Fatalf("register the line: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/v1/calls", dialer,
		`{"callerNumber":"400-800-8888","calleeNumber":"13800138000","reason":"CALL_REASON_REFUND","agentId":"a-7","agentName":"王小明"}`)
	if r.Status != 200 {
		t.Fatalf("stamp: %d %s", r.Status, r.Body)
	}
	token, _ := r.JSON()["token"].(string)
	callID, _ := r.JSON()["call"].(map[string]any)["callId"].(string)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k, err := keyfunc.NewDefaultCtx(ctx, []string{e.HTTPURL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	v := calltoken.Verifier{Keys: k.Keyfunc, Issuer: "callverify", Now: e.Clock.Now}

	c, err := v.Verify(token, "+864008008888", "+8613800138000")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := c.ID, callID; got != want {
		t.Errorf("jti = %q, want the call id %q", got, want)
	}
	if got, want := c.RCD.Nam, "Customer service"; got != want {
		t.Errorf("rcd.nam = %q, want %q", got, want)
	}

	refused := map[string]func() error{
		"another customer": func() error { _, err := v.Verify(token, "+864008008888", "+8613900139000"); return err },
		"another caller":   func() error { _, err := v.Verify(token, "+864008008889", "+8613800138000"); return err },
		"another issuer": func() error {
			w := v
			w.Issuer = "someone-else"
			_, err := w.Verify(token, "+864008008888", "+8613800138000")
			return err
		},
		"a changed signature": func() error {
			// A character inside the signature: the last one may carry
			// only padding bits.
			b := []byte(token)
			i := len(b) - 10
			b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
			_, err := v.Verify(string(b), "+864008008888", "+8613800138000")
			return err
		},
		"after its expiry": func() error {
			w := v
			w.Now = func() time.Time { return e.Clock.Now().Add(601 * time.Second) }
			_, err := w.Verify(token, "+864008008888", "+8613800138000")
			return err
		},
		"iat ahead of the clock": func() error {
			w := v
			w.Now = func() time.Time { return e.Clock.Now().Add(-2 * time.Minute) }
			_, err := w.Verify(token, "+864008008888", "+8613800138000")
			return err
		},
		"alg none": func() error {
			parts := strings.Split(token, ".")
			none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{}).SigningString()
			_, err := v.Verify(strings.Split(none, ".")[0]+"."+parts[1]+".", "+864008008888", "+8613800138000")
			return err
		},
	}
	for name, try := range refused {
		if err := try(); err == nil {
			t.Errorf("%s: verified, want refused", name)
		}
	}
}
