package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/blocklist/storetest"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// blockServers are the deployments every test runs on: the shared
// standalone server, the shared three-master cluster and the shared master
// reached through Sentinel.
var blockServers = []struct {
	name   string
	client func(t *testing.T) redis.UniversalClient
}{
	{"Standalone", func(t *testing.T) redis.UniversalClient { return redistest.Standalone(t).Client(t) }},
	{"Cluster", func(t *testing.T) redis.UniversalClient { return redistest.Cluster(t).Client(t) }},
	{"Sentinel", func(t *testing.T) redis.UniversalClient { return redistest.Sentinel(t).Client(t) }},
}

func testBlocklistRing(t *testing.T) hmackeys.Ring {
	t.Helper()
	r, err := hmackeys.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newStore returns an empty store under a prefix of its own, and that
// prefix.
func newTestBlocklistStore(t *testing.T, rdb redis.UniversalClient, retain int) (*redisstore.BlocklistStore, string) {
	t.Helper()
	prefix := strings.TrimSuffix(redistest.Prefix(t), ":")
	s, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{
		KeyPrefix: prefix, PseudonymKeys: testBlocklistRing(t), ChangeLogRetain: retain,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, prefix
}

// streamAudit reads the events the scripts append to {P:dir}:audit: the
// least audit.Store the suites need, until the real audit store lands.
type streamAudit struct {
	rdb redis.UniversalClient
	key string
}

func (a streamAudit) AppendAuditEvent(ctx context.Context, e audit.Event) (audit.Event, error) {
	return audit.Event{}, errors.New("streamAudit only reads")
}

func (a streamAudit) ListAuditEvents(ctx context.Context, f audit.Filter, limit int, cursor string) ([]audit.Event, string, error) {
	end := "+"
	if cursor != "" {
		end = "(" + cursor
	}
	msgs, err := a.rdb.XRevRange(ctx, a.key, end, "-").Result()
	if err != nil {
		return nil, "", err
	}
	var out []audit.Event
	for _, m := range msgs {
		var e audit.Event
		if err := json.Unmarshal([]byte(m.Values["e"].(string)), &e); err != nil {
			return nil, "", err
		}
		if e.ID != "" {
			return nil, "", errors.New("a stored event carries an id")
		}
		e.ID = m.ID
		if (f.Actor != "" && e.Actor != f.Actor) || (f.Action != "" && e.Action != f.Action) {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID, nil
		}
		out = append(out, e)
	}
	return out, "", nil
}

func TestBlocklistStoreConformance(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			rdb := srv.client(t)
			storetest.Run(t, func(t *testing.T) blocklist.Store {
				s, _ := newTestBlocklistStore(t, rdb, 0)
				return s
			})
		})
	}
}

func TestBlocklistStoreChangeLog(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			rdb := srv.client(t)
			storetest.RunChangeLog(t, func(t *testing.T, retain int) blocklist.Store {
				s, _ := newTestBlocklistStore(t, rdb, retain)
				return s
			})
		})
	}
}

func TestBlocklistStoreAuditsInTheSameStep(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			rdb := srv.client(t)
			stores := func(t *testing.T) (blocklist.Store, audit.Store) {
				s, prefix := newTestBlocklistStore(t, rdb, 0)
				return s, streamAudit{rdb: rdb, key: "{" + prefix + ":dir}:audit"}
			}
			storetest.RunAudit(t, stores)
			storetest.RunOfficialAudit(t, stores)
		})
	}
}
