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

// When a call the index names is gone (its key expired and its entry
// lingers), ListCallsTo still answers right: the calls that are there,
// latest expiry first.
func TestListCallsToSkipsAnIndexedCallThatIsGone(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
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
			var ids []string
			for _, ttl := range []time.Duration{3 * time.Minute, 2 * time.Minute, time.Minute} {
				id := vs.NewCallID(alice)
				if err := vs.CreateCall(ctx, verify.Call{ID: id, Caller: line, Callee: alice, State: verify.StateActive,
					CreateTime: now, ExpireTime: now.Add(ttl)}, audit.Event{Time: now, Action: "call.stamp"}); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			list := func() []string {
				t.Helper()
				cs, err := vs.ListCallsTo(ctx, alice, now, 10)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, c := range cs {
					got = append(got, c.ID)
				}
				return got
			}

			if got, want := strings.Join(list(), " "), strings.Join(ids, " "); got != want {
				t.Errorf("ListCallsTo = %s, want %s", got, want)
			}

			// The middle call's key is gone, its index entry lingers.
			if err := rdb.Del(ctx, "{"+l.Prefix+":s:0}:call:"+ids[1]).Err(); err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(list(), " "), ids[0]+" "+ids[2]; got != want {
				t.Errorf("ListCallsTo with a call gone = %s, want %s", got, want)
			}
		})
	}
}
