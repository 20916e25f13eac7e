package boltstore_test

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/blocklist/storetest"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/audit/audittest"
	"github.com/callverify/callverify/internal/store/boltstore"
)

func TestBlocklistStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) blocklist.Store {
		db := openDB(t)
		s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestBlocklistStoreChangeLog(t *testing.T) {
	t.Parallel()
	storetest.RunChangeLog(t, func(t *testing.T, retain int) blocklist.Store {
		db := openDB(t)
		s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey, ChangeLogRetain: retain})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestAuditStoreConformance(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(t *testing.T) audit.Store {
		db := openDB(t)
		s, err := boltstore.NewAuditStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// testPseudonymKey keys reporter pseudonyms in tests.
var testPseudonymKey = []byte("0123456789abcdef0123456789abcdef")

func TestBlocklistStoreAuditsInTheSameStep(t *testing.T) {
	t.Parallel()
	// ImportTxPages 1: each batch of an import group commits in a
	// transaction of its own, as the groups of a large store do.
	for _, pages := range []int{0, 1} {
		t.Run(fmt.Sprintf("ImportTxPages=%d", pages), func(t *testing.T) {
			t.Parallel()
			storetest.RunAudit(t, func(t *testing.T) (blocklist.Store, audit.Store) {
				db := openDB(t)
				s, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: testPseudonymKey, ImportTxPages: pages})
				if err != nil {
					t.Fatal(err)
				}
				a, err := boltstore.NewAuditStore(db)
				if err != nil {
					t.Fatal(err)
				}
				return s, a
			})
		})
	}
}

// openDB opens a store file in a new temporary directory, closed when t
// ends.
func openDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
