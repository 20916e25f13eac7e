package boltstore_test

import (
	"context"
	"testing"

	callbackstoretest "github.com/callverify/callverify/callback/storetest"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

func TestCallbackStoreConformance(t *testing.T) {
	t.Parallel()
	callbackstoretest.Run(t, func(t *testing.T) callbackstoretest.Harness {
		db := openDB(t)
		cb, err := boltstore.NewCallbackStore(db)
		if err != nil {
			t.Fatal(err)
		}
		v, err := boltstore.NewVerifyStore(db)
		if err != nil {
			t.Fatal(err)
		}
		bl, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
		if err != nil {
			t.Fatal(err)
		}
		as, err := boltstore.NewAuditStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return callbackstoretest.Harness{
			Store: cb, Calls: v, Audit: as,
			AddOfficial: func(ctx context.Context, n phone.Number) error { return officials{bl}.AddOfficial(ctx, n, true) },
		}
	})
}
