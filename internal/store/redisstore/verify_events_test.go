package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// TestCallsStoredBeforeEventsStillWork: a call written before calls
// carried their customer key (no cm field: the old format) can still be
// confirmed, locked and ended; it has no events, and writes none.
func TestCallsStoredBeforeEventsStillWork(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	ctx := context.Background()
	l := redisstore.Layout{Prefix: strings.TrimSuffix(redistest.Prefix(t), ":"), Shards: 1}
	vs, err := redisstore.NewVerifyStore(rdb, redisstore.VerifyOptions{Layout: l, HMAC: testRing, KEK: testKEK, CallRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer vs.Close()
	o := officials{rdb: rdb, prefix: l.Prefix, calls: vs}
	line, alice := phone.Number("+8657188881234"), phone.Number("+8613800138000")
	if err := o.AddOfficial(ctx, line, true); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for range 2 {
		id := vs.NewCallID(alice)
		if err := vs.CreateCall(ctx, verify.Call{ID: id, Caller: line, Callee: alice, State: verify.StateActive,
			CreateTime: now, ExpireTime: now.Add(time.Hour)}, audit.Event{Time: now, Action: "call.stamp"}); err != nil {
			t.Fatal(err)
		}
		// The old format: no customer key on the call.
		if err := rdb.HDel(ctx, "{"+l.Prefix+":s:0}:call:"+id, "cm").Err(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	head, err := vs.EventsHead(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := vs.RecordCodeAttempt(ctx, ids[0], 9, 1, now, audit.Event{Action: "call.lock"}, audit.Event{Action: "call.confirm"}); err != nil || !ok {
		t.Fatalf("confirm an old call: %v, %v", ok, err)
	}
	if _, _, err := vs.RecordCodeAttempt(ctx, ids[0], 0, 1, now, audit.Event{Action: "call.lock"}, audit.Event{Action: "call.confirm"}); err != nil {
		t.Fatalf("lock an old call: %v", err)
	}
	if c, err := vs.EndCall(ctx, ids[1], "", now, audit.Event{Action: "call.end"}); err != nil || c.State != verify.StateEnded {
		t.Fatalf("end an old call: %v, %v", c.State, err)
	}
	page, err := vs.EventsAfter(ctx, alice, head, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 0 {
		t.Fatalf("old calls wrote events: %+v", page.Events)
	}
}
