package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/audit/audittest"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// backends are the Redis deployments every store test runs on: one server,
// a Cluster, and a master reached through Sentinel (a failover client).
var backends = []struct {
	name   string
	client func(t *testing.T) redis.UniversalClient
}{
	{"Standalone", func(t *testing.T) redis.UniversalClient { return redistest.Standalone(t).Client(t) }},
	{"Cluster", func(t *testing.T) redis.UniversalClient { return redistest.Cluster(t).Client(t) }},
	{"Sentinel", func(t *testing.T) redis.UniversalClient { return redistest.Sentinel(t).Client(t) }},
}

// layout is a fresh key space for one test: its own prefix, few shards
// (enough to spread over the cluster's three masters).
func layout(t testing.TB) redisstore.Layout {
	return redisstore.Layout{Prefix: strings.TrimSuffix(redistest.Prefix(t), ":"), Shards: 8}
}

func TestAuditStoreConformance(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			audittest.Run(t, func(t *testing.T) audit.Store {
				s, err := redisstore.NewAuditStore(b.client(t), layout(t))
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// TestAuditListMergesPartitions: events appended by scripts to several
// partitions' streams list as one sequence, newest first, and paging by
// one resumes across partitions without losing or repeating any.
func TestAuditListMergesPartitions(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
			l := layout(t)
			s, err := redisstore.NewAuditStore(rdb, l)
			if err != nil {
				t.Fatal(err)
			}
			// Entries of the same ms-seq in several partitions, as
			// scripts on different masters may write them.
			streams := []string{"{" + l.Prefix + ":dir}:audit", "{" + l.Prefix + ":s:0}:audit", "{" + l.Prefix + ":s:5}:audit"}
			var want []string
			n := 0
			for ms := 1; ms <= 3; ms++ {
				for _, st := range streams {
					target := fmt.Sprint(n)
					n++
					v := fmt.Sprintf(`{"time":"2030-01-01T00:00:00Z","actor":"a","role":"r","action":"x","target":%q}`, target)
					if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: st, ID: fmt.Sprintf("%d-1", ms), Values: []string{"e", v}}).Err(); err != nil {
						t.Fatal(err)
					}
					want = append([]string{target}, want...)
				}
			}
			var got []string
			cursor := ""
			for range 20 {
				evs, next, err := s.ListAuditEvents(ctx, audit.Filter{}, 1, cursor)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					got = append(got, e.Target)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("paged one at a time: %v, want %v", got, want)
			}
			all, _, err := s.ListAuditEvents(ctx, audit.Filter{}, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			if all[0].ID != "3-1.s5" || all[len(all)-1].ID != "1-1.dir" {
				t.Fatalf("ids newest %q oldest %q, want 3-1.s5 and 1-1.dir", all[0].ID, all[len(all)-1].ID)
			}
			if !all[0].Time.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("time %v", all[0].Time)
			}
			for _, bad := range []string{"x", "1-1.s99", "1-1.q", "1.dir"} {
				if _, _, err := s.ListAuditEvents(ctx, audit.Filter{}, 1, bad); err == nil {
					t.Errorf("cursor %q accepted", bad)
				}
			}
		})
	}
}
