package boltstore_test

import (
	"testing"

	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/verify"
	verifystoretest "github.com/callverify/callverify/verify/storetest"
)

func TestVerifyStoreConformance(t *testing.T) {
	t.Parallel()
	verifystoretest.Run(t, func(t *testing.T) verify.Store {
		db, err := boltstore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := boltstore.NewVerifyStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
