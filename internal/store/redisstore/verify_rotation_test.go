package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// TestHMACKeyRotationKeepsCustomersData: after a new HMAC key is put first
// in the ring, what was written under the old key (in other keys, often
// other shards) is still found, counted and deleted.
func TestHMACKeyRotationKeepsCustomersData(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
			l := layout(t)
			newKey, err := hmackeys.New(bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{9}, 32))
			if err != nil {
				t.Fatal(err)
			}
			open := func(ring hmackeys.Ring) *redisstore.VerifyStore {
				s, err := redisstore.NewVerifyStore(rdb, redisstore.VerifyOptions{Layout: l, HMAC: ring, KEK: testKEK, CallRetention: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			before, after := open(testRing), open(newKey)
			o := officials{rdb: rdb, prefix: l.Prefix, calls: before}
			line := phone.Number("+8657188881234")
			if err := o.AddOfficial(ctx, line, true); err != nil {
				t.Fatal(err)
			}
			alice := phone.Number("+8613800138000")
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			ev := audit.Event{Time: now, Action: "test"}
			must := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			must("CreateDevice", before.CreateDevice(ctx, verify.Device{ID: "d-old", Customer: alice, CreateTime: now}, 1, ev))
			must("PutPreferences", before.PutPreferences(ctx, alice, verify.Preferences{UpdateTime: now}, ev))
			id := before.NewCallID(alice)
			must("CreateCall", before.CreateCall(ctx, verify.Call{ID: id, Caller: line, Callee: alice, State: verify.StateActive,
				CreateTime: now, ExpireTime: now.Add(time.Minute)}, ev))

			if d, err := after.GetDevice(ctx, alice, "d-old"); err != nil || d.Customer != alice {
				t.Fatalf("GetDevice after rotation: %+v, %v", d, err)
			}
			if ds, err := after.ListDevices(ctx, alice); err != nil || len(ds) != 1 {
				t.Fatalf("ListDevices after rotation: %d devices, %v; want 1", len(ds), err)
			}
			if p, err := after.GetPreferences(ctx, alice); err != nil || p.MarketingCallsAllowed || !p.UpdateTime.Equal(now) {
				t.Fatalf("GetPreferences after rotation: %+v, %v", p, err)
			}
			if cs, err := after.ListCallsTo(ctx, alice, now, 10); err != nil || len(cs) != 1 || cs[0].ID != id {
				t.Fatalf("ListCallsTo after rotation: %d calls, %v; want %s", len(cs), err, id)
			}
			if err := after.CreateDevice(ctx, verify.Device{ID: "d-new", Customer: alice, CreateTime: now}, 1, ev); !errors.Is(err, fault.ErrResourceExhausted) {
				t.Fatalf("CreateDevice past the limit counted across keys: %v, want ErrResourceExhausted", err)
			}
			must("DeleteDevice", after.DeleteDevice(ctx, alice, "d-old", ev))
			must("CreateDevice", after.CreateDevice(ctx, verify.Device{ID: "d-new", Customer: alice, CreateTime: now}, 1, ev))
			must("PutPreferences", after.PutPreferences(ctx, alice, verify.Preferences{MarketingCallsAllowed: true, UpdateTime: now.Add(time.Second)}, ev))
			if p, err := after.GetPreferences(ctx, alice); err != nil || !p.MarketingCallsAllowed {
				t.Fatalf("GetPreferences after an update under the new key: %+v, %v", p, err)
			}
			id2 := after.NewCallID(alice)
			must("CreateCall", after.CreateCall(ctx, verify.Call{ID: id2, Caller: line, Callee: alice, State: verify.StateActive,
				CreateTime: now, ExpireTime: now.Add(2 * time.Minute)}, ev))
			if cs, err := after.ListCallsTo(ctx, alice, now, 10); err != nil || len(cs) != 2 || cs[0].ID != id2 || cs[1].ID != id {
				t.Fatalf("ListCallsTo across keys: %v, want [%s %s] latest expiry first", err, id2, id)
			}
		})
	}
}
