package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

type vKey struct {
	ID            string          `json:"id"`
	Algorithm     string          `json:"algorithm"`
	State         int             `json:"state"`
	CreateTime    time.Time       `json:"create_time"`
	RetireTime    time.Time       `json:"retire_time"`
	PublishUntil  time.Time       `json:"publish_until"`
	PublicJWK     json.RawMessage `json:"public_jwk"`
	SealedPrivate []byte          `json:"sealed_private"`
}

func vKeyOf(k verify.SigningKey) vKey {
	return vKey{ID: k.ID, Algorithm: k.Algorithm, State: int(k.State), CreateTime: k.CreateTime,
		RetireTime: k.RetireTime, PublishUntil: k.PublishUntil, PublicJWK: k.PublicJWK, SealedPrivate: k.SealedPrivate}
}

func (r vKey) key() verify.SigningKey {
	return verify.SigningKey{ID: r.ID, Algorithm: r.Algorithm, State: verify.KeyState(r.State), CreateTime: r.CreateTime,
		RetireTime: r.RetireTime, PublishUntil: r.PublishUntil, PublicJWK: []byte(r.PublicJWK), SealedPrivate: r.SealedPrivate}
}

// ListSigningKeys implements verify.Store.
func (s *VerifyStore) ListSigningKeys(ctx context.Context) ([]verify.SigningKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []verify.SigningKey
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(vbKeys).ForEach(func(_, v []byte) error {
			var r vKey
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode signing key: %w", err)
			}
			out = append(out, r.key())
			return nil
		})
	})
	if err != nil {
		return nil, storeErr(err)
	}
	verify.SortSigningKeys(out)
	return out, nil
}

// RotateSigningKey implements verify.Store: compare-and-swap on the current
// key id, in one transaction.
func (s *VerifyStore) RotateSigningKey(ctx context.Context, expectCurrent string, next verify.SigningKey, retireTime, publishUntil time.Time, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	next.State = verify.KeyCurrent
	next.RetireTime, next.PublishUntil = time.Time{}, time.Time{}
	nv, err := json.Marshal(vKeyOf(next))
	if err != nil {
		return err
	}
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		meta, keys := tx.Bucket(vbMeta), tx.Bucket(vbKeys)
		if cur := string(meta.Get(vCurrentKey)); cur != expectCurrent {
			return fault.ErrConflict
		}
		if keys.Get([]byte(next.ID)) != nil {
			return fault.ErrAlreadyExists
		}
		if expectCurrent != "" {
			v := keys.Get([]byte(expectCurrent))
			if v == nil {
				return fmt.Errorf("current signing key %s is missing", expectCurrent)
			}
			var old vKey
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("decode signing key: %w", err)
			}
			old.State = int(verify.KeyRetired)
			old.RetireTime, old.PublishUntil = retireTime, publishUntil
			ov, err := json.Marshal(old)
			if err != nil {
				return err
			}
			if err := keys.Put([]byte(old.ID), ov); err != nil {
				return err
			}
		}
		if err := keys.Put([]byte(next.ID), nv); err != nil {
			return err
		}
		if err := meta.Put(vCurrentKey, []byte(next.ID)); err != nil {
			return err
		}
		_, err := appendAudit(tx, ev)
		return err
	}))
}
