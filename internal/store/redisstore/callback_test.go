package redisstore_test

import (
	"context"
	"testing"
	"time"

	callbackstoretest "github.com/callverify/callverify/callback/storetest"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
)

func TestCallbackStoreConformance(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			callbackstoretest.Run(t, func(t *testing.T) callbackstoretest.Harness {
				rdb := b.client(t)
				l := layout(t)
				vs, as, o := newStoresIn(t, rdb, l)
				cs, err := redisstore.NewCallbackStore(rdb, redisstore.CallbackOptions{Layout: l, HMAC: testRing, KEK: testKEK, Retention: 7 * 24 * time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				return callbackstoretest.Harness{
					Store: cs, Calls: vs, Audit: as,
					AddOfficial: func(ctx context.Context, n phone.Number) error { return o.AddOfficial(ctx, n, true) },
				}
			})
		})
	}
}
