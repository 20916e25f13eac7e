package boltstore

import (
	"context"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/verify"
)

// oldJSONCall is a call record as the store wrote it before recordpb
// (json.Marshal of vCall), byte for byte.
const oldJSONCall = `{"id":"oldcall1","caller":"+8657188881234","callee":"+8613800138000","customer_id":"cust-9","reason":3,"reason_text":"refund","order_ref":"ord-1","agent_id":"a-7","agent_name":"Wang","display_name":"Bank CS","origid":"pbx-1","create_by":"dialer-1","state":1,"wrong_attempts":1,"create_time":"2030-01-02T03:04:05Z","expire_time":"2030-01-02T03:09:05Z","end_time":"0001-01-01T00:00:00Z","device_id":"dev-1","sealed_secret":"c2VhbGVkLXNlY3JldC1ieXRlcw==","gen":"g1"}`

var oldCallCreated = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// oldCall is what oldJSONCall holds.
var oldCall = verify.Call{
	ID: "oldcall1", Caller: "+8657188881234", Callee: "+8613800138000", CustomerID: "cust-9", Reason: 3,
	ReasonText: "refund", OrderRef: "ord-1", AgentID: "a-7", AgentName: "Wang", DisplayName: "Bank CS", OrigID: "pbx-1",
	CreateBy: "dialer-1", State: verify.StateActive, WrongAttempts: 1, CreateTime: oldCallCreated,
	ExpireTime: oldCallCreated.Add(5 * time.Minute), DeviceID: "dev-1", SealedSecret: []byte("sealed-secret-bytes"), Gen: "g1",
}

// oldStore is a store holding oldJSONCall, from a line that places calls,
// with the indexes the old store kept for it.
func oldStore(t *testing.T) (*bolt.DB, *VerifyStore, *BlocklistStore) {
	t.Helper()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bl, err := NewBlocklistStore(db, BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bl.CreateOfficialNumber(ctx, blocklist.OfficialNumber{Number: oldCall.Caller, DisplayName: "Bank CS", Direction: blocklist.DirectionOutbound}, oldCallCreated, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	r := vCallOf(oldCall)
	if err := db.Update(func(tx *bolt.Tx) error {
		for b, k := range map[string][]byte{
			string(vbCalls): []byte(r.ID), string(vbByCallee): vCalleeIndexKey(r),
			string(vbByCaller): vCallerIndexKey(r), string(vbByExpiry): vExpiryIndexKey(r),
		} {
			v := []byte(nil)
			if b == string(vbCalls) {
				v = []byte(oldJSONCall)
			}
			if err := tx.Bucket([]byte(b)).Put(k, v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return db, vs, bl
}

func storedCall(t *testing.T, db *bolt.DB, id string) []byte {
	t.Helper()
	var v []byte
	if err := db.View(func(tx *bolt.Tx) error {
		v = append(v, tx.Bucket(vbCalls).Get([]byte(id))...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// A call stored as JSON by an older version reads, lists and takes a code
// attempt, after which it is stored in the binary form.
func TestAnOldJSONCallRecordStillReadsAndIsRewrittenInBinary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, vs, _ := oldStore(t)

	got, err := vs.GetCall(ctx, oldCall.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, oldCall) {
		t.Fatalf("GetCall of the JSON record = %+v\nwant %+v", got, oldCall)
	}
	listed, err := vs.ListCallsTo(ctx, oldCall.Callee, oldCallCreated, 10)
	if err != nil || len(listed) != 1 || !reflect.DeepEqual(listed[0], oldCall) {
		t.Fatalf("ListCallsTo = %+v, %v; want the JSON record's call", listed, err)
	}

	at := oldCallCreated.Add(time.Minute)
	after, matched, err := vs.RecordCodeAttempt(ctx, oldCall.ID, 7, 5, at, audit.Event{}, audit.Event{Action: "call.confirm"})
	if err != nil || !matched {
		t.Fatalf("RecordCodeAttempt on the JSON record: matched %v, %v; want a match", matched, err)
	}
	want := oldCall
	want.LastCodeStep, want.ConfirmTime = 7, at
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("RecordCodeAttempt returned %+v\nwant %+v", after, want)
	}
	if v := storedCall(t, db, oldCall.ID); len(v) == 0 || v[0] == '{' {
		t.Fatalf("the call is stored as %q after the attempt, want the binary form", v)
	}
	if got, err := vs.GetCall(ctx, oldCall.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetCall of the rewritten record = %+v, %v\nwant %+v", got, err, want)
	}
}

// An older store (JSON calls, no caller or expiry index) is indexed when
// it is opened: the backfill reads the JSON records.
func TestOpeningAnOlderStoreIndexesItsJSONCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, bl := oldStore(t)
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(vbByCaller); err != nil {
			return err
		}
		return tx.DeleteBucket(vbByExpiry)
	}); err != nil {
		t.Fatal(err)
	}
	vs, err := NewVerifyStore(db)
	if err != nil {
		t.Fatalf("opening a store of JSON calls: %v", err)
	}
	if n, err := vs.PruneCalls(ctx, oldCall.ExpireTime.Add(-time.Second), 10, audit.Event{}); err != nil || n != 0 {
		t.Fatalf("PruneCalls before the expiry pruned %d (%v), want 0", n, err)
	}
	_, ended, _, err := bl.DeleteOfficialNumber(ctx, oldCall.Caller, oldCallCreated.Add(time.Minute), audit.Event{})
	if err != nil || ended != 1 {
		t.Fatalf("DeleteOfficialNumber ended %d calls (%v), want the JSON record's 1", ended, err)
	}
	if n, err := vs.PruneCalls(ctx, oldCall.ExpireTime.Add(time.Second), 10, audit.Event{}); err != nil || n != 1 {
		t.Fatalf("PruneCalls after the expiry pruned %d (%v), want 1", n, err)
	}
}

// Every field survives the binary form, zero times included.
func TestTheBinaryCallRecordKeepsEveryField(t *testing.T) {
	t.Parallel()
	full := vCallOf(oldCall)
	full.EndTime = oldCallCreated.Add(2 * time.Minute)
	full.ConfirmTime = oldCallCreated.Add(time.Minute)
	full.LastCodeStep, full.State, full.WrongAttempts = 9, int(verify.StateEnded), 2
	full.CallbackRequestID = "cb-1"
	// "every field" must be that: a field added to vCall and not set here
	// would round-trip as zero unnoticed.
	rv := reflect.ValueOf(full)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Fatalf("the full record leaves %s unset", rv.Type().Field(i).Name)
		}
	}
	before := time.Date(1969, 7, 20, 20, 17, 40, 123, time.UTC)
	for name, r := range map[string]vCall{
		"every field":            full,
		"zero times":             {ID: "z", Caller: "+1", Callee: "+2"},
		"a time before 1970":     {ID: "b", CreateTime: before, ExpireTime: before.Add(time.Hour)},
		"only what a stamp sets": vCallOf(oldCall),
	} {
		v, err := vEncodeCall(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v[0] == '{' {
			t.Errorf("%s: the binary form begins with '{', which means JSON", name)
		}
		got, err := vDecodeCall(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s: decoded %+v\nwant %+v", name, got, r)
		}
	}
	v, _ := vEncodeCall(vCallOf(oldCall))
	if got, old := len(v), len(oldJSONCall); got*2 > old {
		t.Errorf("the binary record has %d bytes, the JSON one %d: want at most half", got, old)
	}
}
