package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

// PruneCalls implements verify.Store: the oldest calls by expiry first, at
// most limit in one transaction, so that the write lock is held briefly.
func (s *VerifyStore) PruneCalls(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(vbByExpiry)
		floor := vTimeKey(before)
		var keys [][]byte
		c := idx.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
			if len(k) <= 8 {
				return fmt.Errorf("bad expiry index key")
			}
			if binary.BigEndian.Uint64(k[:8]) >= floor {
				break // this one and every later one expired at or after before
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			r, err := vGetCall(tx, string(k[8:]))
			switch {
			case errors.Is(err, fault.ErrNotFound):
				// Only the index entry is left: drop it, count nothing.
			case err != nil:
				return err
			default:
				for _, del := range []struct {
					bucket, key []byte
				}{
					{vbCalls, []byte(r.ID)}, {vbByCallee, vCalleeIndexKey(r)}, {vbByCaller, vCallerIndexKey(r)},
				} {
					if err := tx.Bucket(del.bucket).Delete(del.key); err != nil {
						return err
					}
				}
				n++
			}
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		if n == 0 {
			return nil
		}
		_, err := appendAudit(tx, withCount(ev, "pruned_calls", n))
		return err
	})
	if err != nil {
		return 0, storeErr(err)
	}
	return n, nil
}
