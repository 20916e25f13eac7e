package redisstore

import (
	"context"
	"errors"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// CreateCallbackCall implements verify.Store.
func (s *VerifyStore) CreateCallbackCall(ctx context.Context, c verify.Call, ev, answered audit.Event) error {
	return fault.Unavailable(errors.New("callbacks on Redis: not built yet"))
}
