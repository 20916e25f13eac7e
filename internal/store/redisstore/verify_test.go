package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify/storetest"
)

// officials writes official numbers with the layout of docs/redis.md, as
// the numbers domain's store does, and removes them as its
// DeleteOfficialNumber does: delete the record, then end the line.
type officials struct {
	rdb    redis.UniversalClient
	prefix string
	calls  *redisstore.VerifyStore
}

func (o officials) key(n phone.Number) string { return "{" + o.prefix + ":dir}:official:" + n.String() }

func (o officials) AddOfficial(ctx context.Context, n phone.Number, placesCalls bool) error {
	direction := "2" // inbound only
	if placesCalls {
		direction = "1" // outbound
	}
	return o.rdb.HSet(ctx, o.key(n), "display_name", "Example", "direction", direction, "gen", rand.Text(),
		"create_by", "tester", "create_time", time.Now().UTC().Format(time.RFC3339Nano)).Err()
}

func (o officials) RemoveOfficial(ctx context.Context, n phone.Number, at time.Time) (int, error) {
	if err := o.rdb.Del(ctx, o.key(n)).Err(); err != nil {
		return 0, err
	}
	return o.calls.EndLine(ctx, n, at)
}

// testKEK and testRing are the secrets of every test store.
var (
	testKEK  = bytes.Repeat([]byte{7}, 32)
	testRing = func() hmackeys.Ring {
		r, err := hmackeys.New(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			panic(err)
		}
		return r
	}()
)

// newStores returns a calls store and its audit store on a fresh key
// space of rdb.
func newStores(t testing.TB, rdb redis.UniversalClient) (*redisstore.VerifyStore, *redisstore.AuditStore, officials) {
	t.Helper()
	return newStoresIn(t, rdb, layout(t))
}

// newStoresIn is newStores on the key space of layout l.
func newStoresIn(t testing.TB, rdb redis.UniversalClient, l redisstore.Layout) (*redisstore.VerifyStore, *redisstore.AuditStore, officials) {
	t.Helper()
	vs, err := redisstore.NewVerifyStore(rdb, redisstore.VerifyOptions{Layout: l, HMAC: testRing, KEK: testKEK, CallRetention: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	as, err := redisstore.NewAuditStore(rdb, l)
	if err != nil {
		t.Fatal(err)
	}
	return vs, as, officials{rdb: rdb, prefix: l.Prefix, calls: vs}
}

func TestVerifyStoreConformance(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) storetest.Harness {
				vs, as, o := newStores(t, b.client(t))
				return storetest.Harness{Store: vs, Audit: as, Officials: o}
			})
		})
	}
}

func TestVerifyStoreEvents(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunEvents(t, func(t *testing.T) storetest.Harness {
				vs, as, o := newStores(t, b.client(t))
				t.Cleanup(func() { vs.Close() })
				return storetest.Harness{Store: vs, Audit: as, Officials: o}
			})
		})
	}
}
