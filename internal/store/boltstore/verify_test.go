package boltstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
	verifystoretest "github.com/callverify/callverify/verify/storetest"
)

// officials registers official numbers through the blocklist store of the
// same database, as the numbers domain does.
type officials struct{ s *boltstore.BlocklistStore }

func (o officials) AddOfficial(ctx context.Context, n phone.Number, placesCalls bool) error {
	d := blocklist.DirectionOutbound
	if !placesCalls {
		d = blocklist.DirectionInboundOnly
	}
	_, err := o.s.CreateOfficialNumber(ctx, blocklist.OfficialNumber{Number: n, DisplayName: "line " + n.String(), Direction: d},
		time.Now(), audit.Event{Action: "official_number.create", Target: n.String()})
	return err
}

func (o officials) RemoveOfficial(ctx context.Context, n phone.Number, at time.Time) (int, error) {
	_, ended, _, err := o.s.DeleteOfficialNumber(ctx, n, at, audit.Event{Action: "official_number.delete", Target: n.String()})
	return ended, err
}

func TestVerifyStoreConformance(t *testing.T) {
	t.Parallel()
	verifystoretest.Run(t, func(t *testing.T) verifystoretest.Harness {
		db := openDB(t)
		s, err := boltstore.NewVerifyStore(db)
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
		return verifystoretest.Harness{Store: s, Audit: as, Officials: officials{bl}}
	})
}

func TestVerifyStoreEvents(t *testing.T) {
	t.Parallel()
	verifystoretest.RunEvents(t, func(t *testing.T) verifystoretest.Harness {
		db := openDB(t)
		s, err := boltstore.NewVerifyStore(db)
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
		return verifystoretest.Harness{Store: s, Audit: as, Officials: officials{bl}}
	})
}
