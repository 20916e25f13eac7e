package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// keyData is a signing key as created (k:<kid>); its state and retirement
// are fields of their own, so that rotation rewrites no JSON in Lua.
type keyData struct {
	Algorithm     string          `json:"algorithm"`
	CreateTime    time.Time       `json:"create_time"`
	PublicJWK     json.RawMessage `json:"public_jwk"`
	SealedPrivate []byte          `json:"sealed_private"`
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// ListSigningKeys implements verify.Store.
func (s *VerifyStore) ListSigningKeys(ctx context.Context) ([]verify.SigningKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.rdb.HGetAll(ctx, s.keys.signingKeys()).Result()
	if err != nil {
		return nil, redisErr(ctx, "list signing keys", err)
	}
	var out []verify.SigningKey
	for f, v := range h {
		kid, ok := strings.CutPrefix(f, "k:")
		if !ok {
			continue
		}
		var d keyData
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, fmt.Errorf("decode signing key %s: %w", kid, err)
		}
		st, err1 := strconv.Atoi(h["s:"+kid])
		rt, err2 := parseTime(h["r:"+kid])
		pu, err3 := parseTime(h["p:"+kid])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("decode signing key %s: %w", kid, err)
		}
		out = append(out, verify.SigningKey{ID: kid, Algorithm: d.Algorithm, State: verify.KeyState(st),
			CreateTime: d.CreateTime, RetireTime: rt, PublishUntil: pu, PublicJWK: []byte(d.PublicJWK), SealedPrivate: d.SealedPrivate})
	}
	verify.SortSigningKeys(out)
	return out, nil
}

// RotateSigningKey implements verify.Store: compare-and-swap on the
// current kid, the keys and the event in one script on {P:dir}.
func (s *VerifyStore) RotateSigningKey(ctx context.Context, expectCurrent string, next verify.SigningKey, retireTime, publishUntil time.Time, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(keyData{Algorithm: next.Algorithm, CreateTime: next.CreateTime.UTC(), PublicJWK: next.PublicJWK, SealedPrivate: next.SealedPrivate})
	if err != nil {
		return err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	status, err := scriptRotateKey.Run(ctx, s.rdb, []string{s.keys.signingKeys(), s.keys.audit(partitionDir)},
		expectCurrent, next.ID, v, formatTime(retireTime), formatTime(publishUntil), e).Text()
	if err != nil {
		return redisErr(ctx, "rotate signing key", err)
	}
	switch status {
	case "conflict":
		return fault.ErrConflict
	case "exists":
		return fault.ErrAlreadyExists
	}
	return nil
}
