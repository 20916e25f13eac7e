package boltstore_test

import (
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/blocklist/storetest"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/store/boltstore"
)

func TestBlocklistStoreOfficialNumberAudit(t *testing.T) {
	t.Parallel()
	storetest.RunOfficialAudit(t, func(t *testing.T) (blocklist.Store, audit.Store) {
		db := openDB(t)
		s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
		if err != nil {
			t.Fatal(err)
		}
		as, err := boltstore.NewAuditStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s, as
	})
}
