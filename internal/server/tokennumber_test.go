package server

import (
	"context"
	"errors"
	"testing"

	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// TestCustomerNumberIsParsedOncePerToken checks that the phone_number of a
// customer's token is remembered after the first call, that the answer is
// the parsed number, and that an invalid claim is still refused every time.
func TestCustomerNumberIsParsedOncePerToken(t *testing.T) {
	t.Parallel()
	p, err := phone.NewParser(phone.DefaultRegion)
	if err != nil {
		t.Fatal(err)
	}
	v := &verifyServer{d: &Deps{Phone: p}, tokenNumbers: phone.NewMemo(p, tokenNumberMemoSize)}
	ctx := auth.NewContext(context.Background(), &auth.Principal{Subject: "c", Role: auth.RoleCustomer, PhoneNumber: "138 0013 8000"})
	for range 3 {
		n, err := v.customerNumber(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, phone.Number("+8613800138000"); got != want {
			t.Fatalf("customerNumber = %q, want %q", got, want)
		}
		if got, want := v.tokenNumbers.Len(), 1; got != want {
			t.Fatalf("remembered numbers = %d, want %d", got, want)
		}
	}
	bad := auth.NewContext(context.Background(), &auth.Principal{Subject: "c", Role: auth.RoleCustomer, PhoneNumber: "12345"})
	for range 2 {
		if _, err := v.customerNumber(bad); !errors.Is(err, fault.ErrPermissionDenied) {
			t.Fatalf("customerNumber of an invalid claim: %v, want permission denied", err)
		}
	}
}
