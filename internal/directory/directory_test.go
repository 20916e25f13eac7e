package directory

import (
	"context"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// The calls domain compares a call's generation with its caller's current
// one: the directory must hand the record's generation on.
func TestDirectoryPassesTheOfficialRecordsGeneration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	parser, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	numbers, err := blocklist.NewService(blocklist.Config{Store: store, Audit: audit.NewRecorder(as, nil), Phone: parser})
	if err != nil {
		t.Fatal(err)
	}
	defer numbers.Close()
	admin := audit.Actor{Subject: "admin-1", Role: "admin"}
	o, err := numbers.CreateOfficialNumber(ctx, admin, "+8657188881234",
		blocklist.OfficialNumber{DisplayName: "Example", Direction: blocklist.DirectionOutbound})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.GetOfficialNumber(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	got, err := New(numbers).OfficialNumber(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Gen == "" || got.Gen != stored.Gen || !got.PlacesCalls || got.InboundOnly {
		t.Fatalf("directory.OfficialNumber = %+v, want an outbound number with the record's generation %q", got, stored.Gen)
	}
}
