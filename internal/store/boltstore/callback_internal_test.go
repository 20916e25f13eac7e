package boltstore

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// A data file written before callbacks: its calls' records have no
// callback_request_id, and it has no callback buckets. Opened now, the
// calls read as calls that answer no request, a stamp for a request is
// refused (there is none), and the callback store starts empty on it.
func TestAStoreFromBeforeCallbacksKeepsWorking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The buckets and a call record exactly as the version before wrote them.
	old := `{"id":"c1","caller":"+8657188881234","callee":"+8613800138000","reason":3,"agent_id":"a-7","agent_name":"Wang",` +
		`"origid":"1b4e28ba-2fa1-41d2-883f-0016d3cca427","create_by":"dialer-1","state":1,"wrong_attempts":0,` +
		`"create_time":"2030-01-02T03:04:05Z","expire_time":"2030-01-02T03:14:05Z","end_time":"0001-01-01T00:00:00Z","sealed_secret":"AQID"}`
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{vbCalls, vbByCallee, vbByCaller, vbByExpiry, vbDevices, vbPrefs, vbKeys, vbMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return tx.Bucket(vbCalls).Put([]byte("c1"), []byte(old))
	}); err != nil {
		t.Fatal(err)
	}

	vs, err := NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := vs.GetCall(ctx, "c1")
	if err != nil || c.CallbackRequestID != "" || c.AgentName != "Wang" || c.State != verify.StateActive {
		t.Fatalf("the old call: %+v, %v", c, err)
	}
	bl, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bl.CreateOfficialNumber(ctx, blocklist.OfficialNumber{Number: c.Caller, DisplayName: "x", Direction: blocklist.DirectionOutbound},
		c.CreateTime, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	// No callback buckets yet: a stamp for a request is refused (there is
	// none), not an error of the file, and nothing is written.
	err = vs.CreateCallbackCall(ctx, verify.Call{ID: "c2", Caller: c.Caller, Callee: c.Callee, CreateBy: "dialer-1",
		State: verify.StateActive, CreateTime: c.CreateTime, ExpireTime: c.ExpireTime, CallbackRequestID: "r1"}, audit.Event{}, audit.Event{})
	if !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("a stamp for a request on the old file: %v, want conflict", err)
	}
	if _, err := vs.GetCall(ctx, "c2"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the refused call was stored: %v", err)
	}
	cs, err := NewCallbackStore(db)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := cs.ListByCustomer(ctx, c.Callee, 10)
	if err != nil || len(mine) != 0 {
		t.Fatalf("callbacks on the old file: %v, %v", mine, err)
	}
	open, next, err := cs.ListOpen(ctx, time.Now(), 0, "", 10)
	if err != nil || len(open) != 0 || next != "" {
		t.Fatalf("the queue on the old file: %v %q %v", open, next, err)
	}
}
