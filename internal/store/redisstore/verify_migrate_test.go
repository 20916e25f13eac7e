package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// While a customer's shard slot migrates with some of its keys moved,
// ListCallsTo still lists the call (or fails): it never answers "no
// calls" for a customer who has one. A script used to read the calls
// under keys it did not declare, which, run on the destination after ASK,
// found none there; the index and the calls are now read by plain
// commands, each sent where its key is (MOVED and ASK followed).
func TestListCallsToWhileTheShardSlotMigrates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		moved func(key string) bool
	}{
		{"the index moved first", func(key string) bool { return strings.Contains(key, ":callee:") }},
		{"the call moved first", func(key string) bool { return strings.Contains(key, ":call:") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := redistest.NewCluster(t)
			rdb := c.Client(t)
			var nodes []*redis.Client
			for _, n := range c.Nodes() {
				cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
				t.Cleanup(func() { cl.Close() })
				nodes = append(nodes, cl)
			}
			ctx := context.Background()
			l := redisstore.Layout{Prefix: strings.TrimSuffix(redistest.Prefix(t), ":"), Shards: 1}
			vs, err := redisstore.NewVerifyStore(rdb, redisstore.VerifyOptions{Layout: l, HMAC: testRing, KEK: testKEK, CallRetention: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			o := officials{rdb: rdb, prefix: l.Prefix, calls: vs}
			line, alice := phone.Number("+8657188881234"), phone.Number("+8613800138000")
			if err := o.AddOfficial(ctx, line, true); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			id := vs.NewCallID(alice)
			if err := vs.CreateCall(ctx, verify.Call{ID: id, Caller: line, Callee: alice, State: verify.StateActive,
				CreateTime: now, ExpireTime: now.Add(time.Minute)}, audit.Event{Time: now, Action: "call.stamp"}); err != nil {
				t.Fatal(err)
			}

			m := startMigration(t, nodes, "{"+l.Prefix+":s:0}")
			m.moveWhere(t, tc.moved)
			cs, err := vs.ListCallsTo(ctx, alice, now, 10)
			t.Logf("during the migration ListCallsTo said %d calls, %v", len(cs), err)
			if err == nil && (len(cs) != 1 || cs[0].ID != id) {
				t.Errorf("ListCallsTo during the migration = %d calls, want %s (or an error)", len(cs), id)
			}
			m.finish(t)
			if cs, err := vs.ListCallsTo(ctx, alice, now, 10); err != nil || len(cs) != 1 || cs[0].ID != id {
				t.Errorf("ListCallsTo after the migration = %d calls, %v; want %s", len(cs), err, id)
			}
		})
	}
}
