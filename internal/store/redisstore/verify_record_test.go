package redisstore_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/seal"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// A call stored before calls were protobuf records (its d field a JSON
// object, its customer sealed JSON) still reads, by id and in the
// customer's list, with every field as it was stored; calls written now
// are not JSON.
func TestCallsStoredAsJSONStillRead(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	vs, _, o := newStores(t, rdb)
	ctx := context.Background()
	line, alice := phone.Number("+8657188881234"), phone.Number("+8613800138000")
	if err := o.AddOfficial(ctx, line, true); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := verify.Call{ID: vs.NewCallID(alice), Caller: line, Callee: alice, CustomerID: "alice-1",
		Reason: verify.ReasonRefund, ReasonText: "退款", OrderRef: "ORD-1", AgentID: "a-7", AgentName: "Li",
		DisplayName: "Example", OrigID: "orig", State: verify.StateActive, CreateTime: now,
		ExpireTime: now.Add(5 * time.Minute), DeviceID: "dev-1", SealedSecret: []byte{1, 2, 3}}
	if err := vs.CreateCall(ctx, c, audit.Event{Time: now, Actor: "dialer", Action: "call.stamp"}); err != nil {
		t.Fatal(err)
	}
	key := callKey(t, rdb, c.ID)
	d, err := rdb.HGet(ctx, key, "d").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(d, "{") {
		t.Fatalf("a new call is stored as JSON: %s", d)
	}
	got, err := vs.GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The same call in the format of before, written as it was.
	sealer, err := seal.New(testKEK)
	if err != nil {
		t.Fatal(err)
	}
	cust, _ := json.Marshal(map[string]string{"callee": alice.String(), "customer_id": c.CustomerID})
	old, _ := json.Marshal(map[string]any{
		"caller": line.String(), "customer": sealer.Seal(cust, []byte("redis call customer:"+c.ID)),
		"reason": int(c.Reason), "reason_text": c.ReasonText, "order_ref": c.OrderRef, "agent_id": c.AgentID,
		"agent_name": c.AgentName, "display_name": c.DisplayName, "origid": c.OrigID,
		"create_time": c.CreateTime, "expire_time": c.ExpireTime, "device_id": c.DeviceID,
		"sealed_secret": c.SealedSecret,
	})
	if err := rdb.HSet(ctx, key, "d", old).Err(); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := vs.GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, got) || fromJSON.Callee != alice || fromJSON.CustomerID != c.CustomerID ||
		fromJSON.AgentName != c.AgentName || !fromJSON.ExpireTime.Equal(c.ExpireTime) {
		t.Errorf("read from JSON:\n%+v\nread from protobuf:\n%+v", fromJSON, got)
	}
	calls, l, err := vs.ListCallsToWithLine(ctx, alice, line, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || !reflect.DeepEqual(calls[0], got) || !l.PlacesCalls {
		t.Errorf("the customer's list: %+v (line %+v), want the call", calls, l)
	}
}

// callKey is the key of call id: its one match in rdb.
func callKey(t *testing.T, rdb redis.UniversalClient, id string) string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "*:call:"+id).Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("the keys of call %s: %v %v", id, keys, err)
	}
	return keys[0]
}

// Under JSONCallRecords (a rolling upgrade from a version that reads only
// JSON) a new call is stored as JSON, and a store without it reads the call
// as the one that wrote it does.
func TestJSONCallRecordsWritesWhatOlderVersionsRead(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	l := layout(t)
	ctx := t.Context()
	stores := make([]*redisstore.VerifyStore, 2)
	for i, asJSON := range []bool{true, false} {
		vs, err := redisstore.NewVerifyStore(rdb, redisstore.VerifyOptions{Layout: l, HMAC: testRing, KEK: testKEK,
			CallRetention: time.Hour, JSONCallRecords: asJSON})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = vs
	}
	o := officials{rdb: rdb, prefix: l.Prefix, calls: stores[0]}
	line, alice := phone.Number("+8657188881234"), phone.Number("+8613800138000")
	if err := o.AddOfficial(ctx, line, true); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	// A call with only what a stamp must have: the fields JSON omits when
	// empty, and no secret.
	c := verify.Call{ID: stores[0].NewCallID(alice), Caller: line, Callee: alice, State: verify.StateActive,
		AgentID: "a-1", CreateTime: now, ExpireTime: now.Add(time.Minute)}
	if err := stores[0].CreateCall(ctx, c, audit.Event{Time: now, Actor: "dialer", Action: "call.stamp"}); err != nil {
		t.Fatal(err)
	}
	d, err := rdb.HGet(ctx, callKey(t, rdb, c.ID), "d").Result()
	if err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	if err := json.Unmarshal([]byte(d), &old); err != nil || old["caller"] != line.String() || old["agent_id"] != "a-1" {
		t.Fatalf("d is not the JSON of before (%v): %s", err, d)
	}
	byWriter, err := stores[0].GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := stores[1].GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byWriter, byOther) || byOther.Callee != alice || !byOther.ExpireTime.Equal(c.ExpireTime) {
		t.Errorf("the writer reads:\n%+v\nthe other store reads:\n%+v", byWriter, byOther)
	}
}
