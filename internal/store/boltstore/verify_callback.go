package boltstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// CreateCallbackCall implements verify.Store: the callback request's check
// and change (callback/requests, the same file) and the call are one
// transaction, so a request is answered by at most one call and a refused
// answer writes nothing.
func (s *VerifyStore) CreateCallbackCall(ctx context.Context, c verify.Call, ev, answered audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.CallbackRequestID == "" {
		return fault.Invalid("callback_request_id", "is required")
	}
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		if err := vCreateCall(tx, c, ev, s.notify); err != nil {
			return err
		}
		if err := cbAnswer(tx, c.CallbackRequestID, c.CreateBy, c.Callee, c.ID, c.CreateTime); err != nil {
			return err // the whole transaction rolls back: no call either
		}
		_, err := appendAudit(tx, answered)
		return err
	}))
}
