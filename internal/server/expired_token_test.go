package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

// TestExpiredBearerTokenIsAnsweredExpired: over gRPC and REST, a token of
// the right issuer whose time is up is told it expired (so the client gets
// a new one), while a forged one is only "not valid".
func TestExpiredBearerTokenIsAnsweredExpired(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	admin := env.Admin() // 24h, from the clock's start
	forged, err := auth.Mint([]byte(strings.Repeat("x", 32)), auth.MintOptions{
		Subject: "mallory", Role: auth.RoleAdmin, TTL: time.Hour, Now: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	list := func(tok string) error {
		_, err := callverifyv1.NewAdminServiceClient(env.Conn).ListOfficialNumbers(env.Ctx(tok), &callverifyv1.ListOfficialNumbersRequest{})
		return err
	}
	if err := list(admin); err != nil {
		t.Fatalf("a fresh token: %v", err)
	}

	env.Clock.Advance(25 * time.Hour)
	for _, tc := range []struct {
		name, token, want string
	}{
		{"expired", admin, "the bearer token has expired; get a new one"},
		{"forged", forged, "the bearer token is not valid"},
	} {
		err := list(tc.token)
		if got := status.Code(err); got != codes.Unauthenticated {
			t.Errorf("gRPC, %s token: code %v (%v), want Unauthenticated", tc.name, got, err)
		}
		if got := status.Convert(err).Message(); got != tc.want {
			t.Errorf("gRPC, %s token: message %q, want %q", tc.name, got, tc.want)
		}

		r := env.Do("GET", "/v1/official-numbers", tc.token, nil)
		if r.Status != 401 {
			t.Errorf("REST, %s token: HTTP %d %s, want 401", tc.name, r.Status, r.Body)
		}
		if got := r.JSON()["message"]; got != tc.want {
			t.Errorf("REST, %s token: message %q, want %q", tc.name, got, tc.want)
		}
	}
}
