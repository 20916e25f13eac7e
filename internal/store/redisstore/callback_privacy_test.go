package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// TestNoCallbackCustomerInPlain runs callbacks through both domains on the
// Redis stores (request, claim, the answering call, cancel, expiry) and
// reads every key and value: no customer's number and no customer id is
// there in plain.
func TestNoCallbackCustomerInPlain(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
			vs, as, o := newStores(t, rdb)
			cs, err := redisstore.NewCallbackStore(rdb, redisstore.CallbackOptions{
				Layout: redisstore.Layout{Prefix: o.prefix, Shards: 8}, HMAC: testRing, KEK: testKEK, Retention: 24 * time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			clock := func() time.Time { return now }
			rec := audit.NewRecorder(as, clock)
			cb, err := callback.NewService(callback.Config{Store: cs, Audit: rec, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			parser, err := phone.NewParser("CN")
			if err != nil {
				t.Fatal(err)
			}
			svc, err := verify.NewService(verify.Config{
				Store: vs, Directory: directory{o}, Audit: rec, Phone: parser, Now: clock, KEK: testKEK, Callbacks: cb,
			})
			if err != nil {
				t.Fatal(err)
			}
			line := phone.Number("+8657188881234")
			if err := o.AddOfficial(ctx, line, true); err != nil {
				t.Fatal(err)
			}
			alice, bob := phone.Number("+8613800138000"), phone.Number("+8613900139000")
			asAlice, asBob := audit.Actor{Subject: "cust-4711", Role: "customer"}, audit.Actor{Subject: "cust-4712", Role: "customer"}
			dialer := audit.Actor{Subject: "dialer-1", Role: "dialer"}
			step := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			ra, err := cb.Request(ctx, asAlice, alice, callback.NewRequest{Reason: 3, OrderRef: "ORD-1"})
			step("Request (alice)", err)
			rb, err := cb.Request(ctx, asBob, bob, callback.NewRequest{Reason: 4})
			step("Request (bob)", err)
			_, err = cb.Request(ctx, asBob, bob, callback.NewRequest{Reason: 5})
			step("Request (bob, again)", err)
			_, err = cb.Claim(ctx, dialer, ra.ID)
			step("Claim", err)
			st, err := svc.StampCall(ctx, dialer, verify.StampRequest{CallerNumber: line.String(), CalleeNumber: "138 0013 8000",
				Reason: verify.ReasonRefund, AgentID: "a-1", AgentName: "Agent", CallbackRequestID: ra.ID})
			step("StampCall", err)
			res, err := svc.CheckCaller(ctx, alice, line.String(), "en")
			step("CheckCaller", err)
			if res.Callback == nil || res.Callback.ID != ra.ID || res.Call.ID != st.Call.ID {
				t.Fatalf("CheckCaller %+v, want the callback", res)
			}
			if res, _ := svc.CheckCaller(ctx, bob, line.String(), "en"); res.Callback != nil {
				t.Fatalf("bob sees a callback: %+v", res)
			}
			_, err = cb.Cancel(ctx, asBob, bob, rb.ID)
			step("Cancel", err)
			_, err = cb.ExpireDue(ctx, now.Add(48*time.Hour), 10, rec.Event(audit.System, "callback.expire", "callbacks", nil, nil))
			step("ExpireDue", err)
			_, err = cb.Request(ctx, asAlice, alice, callback.NewRequest{Reason: 1, Window: callback.Window{Start: now.Add(time.Hour), End: now.Add(72 * time.Hour)}})
			step("Request (alice, left open)", err)
			_, err = cb.ListMine(ctx, alice)
			step("ListMine", err)

			all := dump(t, rdb, o.prefix)
			for _, want := range []string{":cb:", ":cbs:", "cbq}:q", ":call:"} {
				if !strings.Contains(all, want) {
					t.Fatalf("the dump has no %q key: the scan missed what it should check\n%s", want, all)
				}
			}
			for _, secret := range []string{"13800138000", "13900139000", "138 0013", "139 0013"} {
				if i := strings.Index(all, secret); i >= 0 {
					t.Errorf("%q is in Redis in plain: ...%s...", secret, all[max(0, i-200):min(len(all), i+100)])
				}
			}
			// The customers' ids are the audit events' actors (as every
			// actor's subject is); anywhere else they are sealed.
			for _, line := range strings.Split(all, "\n") {
				if strings.HasPrefix(line, "stream ") {
					continue
				}
				for _, secret := range []string{"cust-4711", "cust-4712"} {
					if strings.Contains(line, secret) {
						t.Errorf("%q is in Redis in plain: %s", secret, line)
					}
				}
			}
		})
	}
}
