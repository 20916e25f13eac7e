package boltstore

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// A store written before the caller index existed gets its live calls
// indexed when it is opened, so deleting their official number ends them.
func TestOpeningAnOlderStoreIndexesTheLiveCallsOfEachLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bl, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	line := phone.Number("+8657188881234")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := bl.CreateOfficialNumber(ctx, blocklist.OfficialNumber{Number: line, DisplayName: "x", Direction: blocklist.DirectionOutbound}, now, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c1", "c2"} {
		c := verify.Call{ID: id, Caller: line, Callee: "+8613800138000", State: verify.StateActive, CreateTime: now, ExpireTime: now.Add(time.Hour)}
		if err := vs.CreateCall(ctx, c, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	// As the store was before: no caller index.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(vbByCaller) }); err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifyStore(db); err != nil {
		t.Fatal(err)
	}
	_, ended, _, err := bl.DeleteOfficialNumber(ctx, line, now, audit.Event{})
	if err != nil || ended != 2 {
		t.Fatalf("DeleteOfficialNumber ended %d calls (%v), want 2", ended, err)
	}
}

// A store written before retention gets every call indexed by expiry when
// it is opened, so the sweeper prunes the calls it already held.
func TestOpeningAnOlderStoreIndexesEveryCallForPruning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bl, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	line := phone.Number("+8657188881234")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := bl.CreateOfficialNumber(ctx, blocklist.OfficialNumber{Number: line, DisplayName: "x", Direction: blocklist.DirectionOutbound}, now, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"old", "new"} {
		expire := now.Add(time.Duration(i*30*24) * time.Hour)
		c := verify.Call{ID: id, Caller: line, Callee: "+8613800138000", State: verify.StateActive, CreateTime: now, ExpireTime: expire}
		if err := vs.CreateCall(ctx, c, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(vbByExpiry) }); err != nil {
		t.Fatal(err)
	}
	if vs, err = NewVerifyStore(db); err != nil {
		t.Fatal(err)
	}
	n, err := vs.PruneCalls(ctx, now.Add(7*24*time.Hour), 10, audit.Event{Action: "call.prune"})
	if err != nil || n != 1 {
		t.Fatalf("PruneCalls = %d, %v; want the 1 old call", n, err)
	}
	if _, err := vs.GetCall(ctx, "new"); err != nil {
		t.Errorf("the newer call: %v", err)
	}
}

// An official record written before records had a generation reads with
// Gen "" (unknown), and a call stamped under it stores Gen "" too: the
// domain then leaves the decision to its other checks.
func TestAnOfficialRecordOfAnOlderStoreHasNoGeneration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bl, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	line := phone.Number("+8657188881234")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	// As an older store wrote it: no gen field.
	old := []byte(`{"number":"+8657188881234","display_name":"x","direction":1,"create_time":"2030-01-02T03:04:05Z"}`)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bOfficial).Put([]byte(line), old) }); err != nil {
		t.Fatal(err)
	}
	o, err := bl.GetOfficialNumber(ctx, line)
	if err != nil || o.Gen != "" || !o.Direction.PlacesCalls() {
		t.Fatalf("GetOfficialNumber = %+v (%v), want the outbound number with Gen \"\"", o, err)
	}
	c := verify.Call{ID: "c1", Caller: line, Callee: "+8613800138000", State: verify.StateActive, CreateTime: now, ExpireTime: now.Add(time.Hour)}
	if err := vs.CreateCall(ctx, c, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	got, err := vs.GetCall(ctx, c.ID)
	if err != nil || got.Gen != "" {
		t.Fatalf("GetCall: Gen %q (%v), want \"\"", got.Gen, err)
	}
}

// TestCallIDsOfTheSameMomentShareTheirStart: an id starts with its
// millisecond, so the ids of one commit's calls share their first
// characters (they are stored side by side) and ids of the same
// millisecond still differ in their random part.
func TestCallIDsOfTheSameMomentShareTheirStart(t *testing.T) {
	// The first 8 characters are the time's top 40 bits: a window of 256 ms.
	t0 := time.UnixMilli(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli() &^ 255)
	first := newCallID(t0)
	for ms := range 256 {
		if id := newCallID(t0.Add(time.Duration(ms) * time.Millisecond)); id[:8] != first[:8] {
			t.Fatalf("id at +%d ms %q does not start as %q at +0 ms", ms, id, first)
		}
	}
	if id := newCallID(t0.Add(256 * time.Millisecond)); id[:8] == first[:8] {
		t.Fatalf("id at +256 ms %q starts as %q at +0 ms", id, first)
	}
	a, b := newCallID(t0), newCallID(t0)
	if a == b || a[10:] == b[10:] {
		t.Fatalf("ids of the same millisecond %q and %q: want different random parts", a, b)
	}
}
