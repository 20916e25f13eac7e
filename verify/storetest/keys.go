package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

func key(id string, at time.Time) verify.SigningKey {
	return verify.SigningKey{
		ID: id, Algorithm: verify.AlgES256, State: verify.KeyCurrent, CreateTime: at,
		PublicJWK: []byte(`{"kid":"` + id + `"}`), SealedPrivate: []byte("sealed-" + id),
	}
}

func current(t *testing.T, keys []verify.SigningKey) string {
	t.Helper()
	cur := ""
	for _, k := range keys {
		if k.State == verify.KeyCurrent {
			if cur != "" {
				t.Fatalf("two current keys: %s and %s", cur, k.ID)
			}
			cur = k.ID
		}
	}
	return cur
}

func testSigningKeys(t *testing.T, s verify.Store) {
	ctx := context.Background()
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys empty", err)
	if len(keys) != 0 {
		t.Fatalf("ListSigningKeys of an empty store: %d keys", len(keys))
	}
	wantKind(t, "rotate expecting a key that does not exist",
		s.RotateSigningKey(ctx, "k0", key("k1", base), base, base, ev("signing_key.rotate")), fault.ErrConflict)

	k1 := key("k1", base)
	must(t, "create the first key", s.RotateSigningKey(ctx, "", k1, time.Time{}, time.Time{}, ev("signing_key.rotate")))
	wantKind(t, "create the first key twice", s.RotateSigningKey(ctx, "", key("k9", base), time.Time{}, time.Time{}, ev("signing_key.rotate")), fault.ErrConflict)
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 1 || current(t, keys) != "k1" {
		t.Fatalf("after the first key: %+v", keys)
	}
	k := keys[0]
	if k.Algorithm != k1.Algorithm || !k.CreateTime.Equal(base) || string(k.PublicJWK) != string(k1.PublicJWK) ||
		string(k.SealedPrivate) != string(k1.SealedPrivate) || !k.RetireTime.IsZero() || !k.PublishUntil.IsZero() {
		t.Fatalf("stored key = %+v, want %+v", k, k1)
	}

	retire, until := base.Add(time.Hour), base.Add(3*time.Hour)
	must(t, "rotate", s.RotateSigningKey(ctx, "k1", key("k2", retire), retire, until, ev("signing_key.rotate")))
	wantKind(t, "rotate from a stale current key", s.RotateSigningKey(ctx, "k1", key("k3", retire), retire, until, ev("signing_key.rotate")), fault.ErrConflict)
	wantKind(t, "rotate to an existing key id", s.RotateSigningKey(ctx, "k2", key("k1", retire), retire, until, ev("signing_key.rotate")), fault.ErrAlreadyExists)
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 2 || current(t, keys) != "k2" || keys[0].ID != "k2" || keys[1].ID != "k1" {
		t.Fatalf("after rotation (want k2 current, newest first): %+v", keys)
	}
	old := keys[1]
	if old.State != verify.KeyRetired || !old.RetireTime.Equal(retire) || !old.PublishUntil.Equal(until) {
		t.Fatalf("retired key = state %v retire %v until %v", old.State, old.RetireTime, old.PublishUntil)
	}
	if string(old.PublicJWK) != string(k1.PublicJWK) {
		t.Fatalf("retiring changed the public key")
	}

	// A key made in the same clock tick as the current one still lists
	// first once it is current: order is current, then latest retired.
	must(t, "rotate again", s.RotateSigningKey(ctx, "k2", key("k0", retire), retire.Add(time.Hour), until.Add(time.Hour), ev("signing_key.rotate")))
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if got := []string{keys[0].ID, keys[1].ID, keys[2].ID}; !reflect.DeepEqual(got, []string{"k0", "k2", "k1"}) {
		t.Fatalf("order %v, want current first, then the latest retired", got)
	}
}

func testSigningKeysConcurrent(t *testing.T, s verify.Store) {
	ctx := context.Background()
	race := func(expect string, prefix string) (wins int) {
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.RotateSigningKey(ctx, expect, key(fmt.Sprintf("%s%d", prefix, i), base), base, base.Add(time.Hour), ev("signing_key.rotate"))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, fault.ErrConflict):
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		return wins
	}
	if w := race("", "first"); w != 1 {
		t.Fatalf("%d instances created the first key, want exactly 1", w)
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	cur := current(t, keys)
	if w := race(cur, "next"); w != 1 {
		t.Fatalf("%d instances rotated from the same key, want exactly 1", w)
	}
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 2 || current(t, keys) == cur {
		t.Fatalf("after the race: %d keys, current %s", len(keys), current(t, keys))
	}
}
