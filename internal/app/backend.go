package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/ratelimit"
	"github.com/callverify/callverify/internal/ratelimit/redislimit"
	"github.com/callverify/callverify/internal/redisconn"
	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/internal/streamcap"
	"github.com/callverify/callverify/internal/streamcap/rediscap"
	"github.com/callverify/callverify/verify"
)

// backend is where the service keeps its state: the embedded store, or
// Redis shared by many instances. Everything above it sees only the
// domains' Store interfaces.
type backend struct {
	name      string
	audit     audit.Store
	blocklist blocklist.Store
	verify    verify.Store
	callbacks callback.Store
	// ready reports whether the store can be reached.
	ready func(ctx context.Context) error
	// lookup and lookupGlobal limit anonymous lookups across instances;
	// nil keeps the in-memory limits of one instance.
	lookup, lookupGlobal ratelimit.Limiter
	// indexSnapshot is where the blocklist keeps its index snapshot
	// (blocklist.Follow.Snapshot); "" for none.
	indexSnapshot string
	// indexSnapshots keep it in the shared store instead
	// (blocklist.Follow.Snapshots); nil for none.
	indexSnapshots blocklist.SnapshotStore
	// watchCap caps a customer's live call streams across instances; nil
	// caps them per instance.
	watchCap streamcap.Cap
	// collectors are the store's metrics, for the server's registry.
	collectors []prometheus.Collector
	close      func() error
}

// openBackend opens the backend the configuration names.
func openBackend(ctx context.Context, cfg Config, kek []byte, ring hmackeys.Ring) (*backend, error) {
	if len(cfg.RedisAddrs) > 0 {
		return openRedis(ctx, cfg, kek, ring)
	}
	return openEmbedded(cfg, ring)
}

// openEmbedded opens the bbolt store in the data directory.
func openEmbedded(cfg Config, ring hmackeys.Ring) (_ *backend, err error) {
	db, err := boltstore.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	a, err := boltstore.NewAuditStore(db)
	if err != nil {
		return nil, err
	}
	v, err := boltstore.NewVerifyStore(db)
	if err != nil {
		return nil, err
	}
	bl, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKeys: ring, Calls: v})
	if err != nil {
		return nil, err
	}
	cb, err := boltstore.NewCallbackStore(db)
	if err != nil {
		return nil, err
	}
	return &backend{
		name: "embedded", audit: a, blocklist: bl, verify: v, callbacks: cb,
		ready:         func(ctx context.Context) error { return boltstore.Ping(ctx, db) },
		close:         db.Close,
		indexSnapshot: filepath.Join(cfg.DataDir, boltstore.IndexSnapshotFile),
		collectors:    boltCollectors(db),
	}, nil
}

// redisDialTimeout bounds the first contact with Redis at start.
const redisDialTimeout = 5 * time.Second

// openRedis connects to Redis (standalone, Sentinel or Cluster) and builds
// the Redis stores and the shared limiters on it.
func openRedis(ctx context.Context, cfg Config, kek []byte, ring hmackeys.Ring) (_ *backend, err error) {
	rdb, err := redisconn.New(cfg.RedisConfig())
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	defer func() {
		if err != nil {
			rdb.Close()
		}
	}()
	// A server that cannot reach its store at start says so at once
	// (later, readiness follows the store and the service recovers when
	// it comes back).
	pctx, cancel := context.WithTimeout(ctx, redisDialTimeout)
	defer cancel()
	if err := redisconn.Ping(pctx, rdb); err != nil {
		return nil, fmt.Errorf("redis at %s: %w", strings.Join(cfg.RedisAddrs, ","), err)
	}
	metrics := redisconn.AddMetrics(rdb)
	layout := redisstore.Layout{Prefix: cfg.RedisKeyPrefix}
	a, err := redisstore.NewAuditStore(rdb, layout)
	if err != nil {
		return nil, err
	}
	v, err := redisstore.NewVerifyStore(rdb, redisstore.VerifyOptions{
		Layout: layout, HMAC: ring, KEK: kek, CallRetention: cfg.CallRetention, EventRetention: cfg.WatchRetention,
		JSONCallRecords: cfg.RedisJSONRecords,
	})
	if err != nil {
		return nil, err
	}
	cb, err := redisstore.NewCallbackStore(rdb, redisstore.CallbackOptions{
		Layout: layout, HMAC: ring, KEK: kek, Retention: cfg.CallbackRetention,
	})
	if err != nil {
		return nil, err
	}
	bl, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{
		KeyPrefix: cfg.RedisKeyPrefix, PseudonymKeys: ring, JSONEntryRecords: cfg.RedisJSONRecords,
		EndLine: func(ctx context.Context, caller phone.Number, at time.Time) (int, error) {
			return v.EndLine(ctx, caller, at)
		},
	})
	if err != nil {
		return nil, err
	}
	lookup, err := newRedisLimiter(rdb, cfg, ring, "lookup", rate.Limit(cfg.LookupRate), cfg.LookupBurst)
	if err != nil {
		return nil, err
	}
	global, err := newRedisLimiter(rdb, cfg, ring, "lookup-global", rate.Limit(cfg.Edge.LookupGlobalRate), cfg.Edge.LookupGlobalBurst)
	if err != nil {
		return nil, err
	}
	// A place is held while its stream beats; one whose instance died
	// lapses after three missed heartbeats.
	watchCap, err := rediscap.New(rediscap.Config{
		Client: rdb, Prefix: cfg.RedisKeyPrefix, Max: cfg.WatchPerCustomer, TTL: 3 * cfg.WatchHeartbeat, Keys: ring,
	})
	if err != nil {
		return nil, err
	}
	return &backend{
		name: "redis", audit: a, blocklist: bl, verify: v, callbacks: cb, watchCap: watchCap,
		indexSnapshots: bl.IndexSnapshots(),
		ready:          func(ctx context.Context) error { return redisconn.Ping(ctx, rdb) },
		lookup:         lookup, lookupGlobal: global,
		collectors: metrics.Collectors(),
		close:      func() error { _ = v.Close(); return rdb.Close() },
	}, nil
}

func newRedisLimiter(rdb redis.UniversalClient, cfg Config, ring hmackeys.Ring, name string, r rate.Limit, burst int) (ratelimit.Limiter, error) {
	l, err := redislimit.New(redislimit.Config{
		Client: rdb, Prefix: cfg.RedisKeyPrefix, Name: name, Rate: r, Burst: burst, Keys: ring,
	})
	if err != nil {
		return nil, fmt.Errorf("%s limiter: %w", name, err)
	}
	return l, nil
}
