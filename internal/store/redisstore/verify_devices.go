package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// deviceData is a stored device. It holds no number: the customer is the
// key's HMAC, and every read names the customer.
type deviceData struct {
	Label        string    `json:"label,omitempty"`
	SealedSecret []byte    `json:"sealed_secret"`
	CreateTime   time.Time `json:"create_time"`
}

func decodeDevice(customer phone.Number, id, v string) (verify.Device, error) {
	var d deviceData
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return verify.Device{}, fmt.Errorf("decode device %s: %w", id, err)
	}
	return verify.Device{ID: id, Customer: customer, Label: d.Label, SealedSecret: d.SealedSecret, CreateTime: d.CreateTime}, nil
}

// CreateDevice implements verify.Store: the limit, the device and its
// event are one script on the customer's shard.
func (s *VerifyStore) CreateDevice(ctx context.Context, d verify.Device, limit int, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(deviceData{Label: d.Label, SealedSecret: d.SealedSecret, CreateTime: d.CreateTime.UTC()})
	if err != nil {
		return err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	custs := s.keys.customersOf(s.ring, d.Customer)
	cust := custs[0]
	// Devices enrolled under an older HMAC key count against the limit
	// too; they are in other shards, so they are counted before the
	// script (a rotation is rare, and its count only shrinks).
	for _, old := range custs[1:] {
		n, err := s.rdb.HLen(ctx, s.keys.devices(old)).Result()
		if err != nil {
			return redisErr(ctx, "count devices", err)
		}
		limit -= int(n)
	}
	status, err := scriptCreateDevice.Run(ctx, s.rdb, []string{s.keys.devices(cust), s.keys.audit(cust.shard)}, d.ID, v, max(limit, 0), e).Text()
	if err != nil {
		return redisErr(ctx, "create device", err)
	}
	switch status {
	case "exists":
		return fault.ErrAlreadyExists
	case "exhausted":
		return fault.ErrResourceExhausted
	}
	return nil
}

// GetDevice implements verify.Store.
func (s *VerifyStore) GetDevice(ctx context.Context, customer phone.Number, id string) (verify.Device, error) {
	if err := ctx.Err(); err != nil {
		return verify.Device{}, err
	}
	for _, cust := range s.keys.customersOf(s.ring, customer) {
		v, err := s.rdb.HGet(ctx, s.keys.devices(cust), id).Result()
		if isNil(err) {
			continue
		}
		if err != nil {
			return verify.Device{}, redisErr(ctx, "get device", err)
		}
		return decodeDevice(customer, id, v)
	}
	return verify.Device{}, fault.ErrNotFound
}

// ListDevices implements verify.Store.
func (s *VerifyStore) ListDevices(ctx context.Context, customer phone.Number) ([]verify.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []verify.Device
	seen := map[string]bool{}
	custs := s.keys.customersOf(s.ring, customer)
	cmds := make([]*redis.MapStringStringCmd, len(custs))
	if err := s.lines.do(ctx, func(bctx context.Context, p redis.Pipeliner) {
		for i, cust := range custs {
			cmds[i] = p.HGetAll(bctx, s.keys.devices(cust))
		}
	}); err != nil {
		return nil, err
	}
	for _, cmd := range cmds {
		h, err := cmd.Result()
		if err != nil {
			return nil, redisErr(ctx, "list devices", err)
		}
		for id, v := range h {
			if seen[id] {
				continue
			}
			seen[id] = true
			d, err := decodeDevice(customer, id, v)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreateTime.Equal(out[j].CreateTime) {
			return out[i].CreateTime.After(out[j].CreateTime)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// DeleteDevice implements verify.Store: one script on the shard of the
// HMAC key the device was enrolled under.
func (s *VerifyStore) DeleteDevice(ctx context.Context, customer phone.Number, id string, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	for _, cust := range s.keys.customersOf(s.ring, customer) {
		status, err := scriptDeleteDevice.Run(ctx, s.rdb, []string{s.keys.devices(cust), s.keys.audit(cust.shard)}, id, e).Text()
		if err != nil {
			return redisErr(ctx, "delete device", err)
		}
		if status != "notfound" {
			return nil
		}
	}
	return fault.ErrNotFound
}

// GetPreferences implements verify.Store: the writing key's first, then
// what an older key wrote.
func (s *VerifyStore) GetPreferences(ctx context.Context, customer phone.Number) (verify.Preferences, error) {
	if err := ctx.Err(); err != nil {
		return verify.Preferences{}, err
	}
	for _, cust := range s.keys.customersOf(s.ring, customer) {
		h, err := s.rdb.HGetAll(ctx, s.keys.prefs(cust)).Result()
		if err != nil {
			return verify.Preferences{}, redisErr(ctx, "get preferences", err)
		}
		if len(h) == 0 {
			continue
		}
		t, err := parseTime(h["ut"])
		if err != nil {
			return verify.Preferences{}, fmt.Errorf("decode preferences: %w", err)
		}
		return verify.Preferences{MarketingCallsAllowed: h["marketing"] == "1", UpdateTime: t}, nil
	}
	return verify.Preferences{}, fault.ErrNotFound
}

// PutPreferences implements verify.Store.
func (s *VerifyStore) PutPreferences(ctx context.Context, customer phone.Number, p verify.Preferences, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	marketing := "0"
	if p.MarketingCallsAllowed {
		marketing = "1"
	}
	cust := s.keys.customerOf(s.ring, customer)
	err = scriptPutPreferences.Run(ctx, s.rdb, []string{s.keys.prefs(cust), s.keys.audit(cust.shard)}, marketing, formatTime(p.UpdateTime), e).Err()
	return redisErr(ctx, "put preferences", err)
}
