package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

type vDevice struct {
	ID           string    `json:"id"`
	Customer     string    `json:"customer"`
	Label        string    `json:"label,omitempty"`
	SealedSecret []byte    `json:"sealed_secret"`
	CreateTime   time.Time `json:"create_time"`
}

type vPrefs struct {
	MarketingCallsAllowed bool      `json:"marketing_calls_allowed"`
	UpdateTime            time.Time `json:"update_time"`
}

func vDeviceKey(customer phone.Number, id string) []byte {
	return append(vCalleePrefix(customer), id...)
}

func vDecodeDevice(v []byte) (verify.Device, error) {
	var r vDevice
	if err := json.Unmarshal(v, &r); err != nil {
		return verify.Device{}, fmt.Errorf("decode device: %w", err)
	}
	return verify.Device{ID: r.ID, Customer: phone.Number(r.Customer), Label: r.Label,
		SealedSecret: r.SealedSecret, CreateTime: r.CreateTime}, nil
}

// CreateDevice implements verify.Store.
func (s *VerifyStore) CreateDevice(ctx context.Context, d verify.Device, limit int, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(vDevice{ID: d.ID, Customer: d.Customer.String(), Label: d.Label,
		SealedSecret: d.SealedSecret, CreateTime: d.CreateTime})
	if err != nil {
		return err
	}
	return storeErr(s.commit.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(vbDevices)
		k := vDeviceKey(d.Customer, d.ID)
		if b.Get(k) != nil {
			return fault.ErrAlreadyExists
		}
		prefix := vCalleePrefix(d.Customer)
		n := 0
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		if n >= limit {
			return fault.ErrResourceExhausted
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
		_, err := appendAudit(tx, ev)
		return err
	}))
}

// GetDevice implements verify.Store.
func (s *VerifyStore) GetDevice(ctx context.Context, customer phone.Number, id string) (verify.Device, error) {
	if err := ctx.Err(); err != nil {
		return verify.Device{}, err
	}
	var d verify.Device
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(vbDevices).Get(vDeviceKey(customer, id))
		if v == nil {
			return fault.ErrNotFound
		}
		var err error
		d, err = vDecodeDevice(v)
		return err
	})
	return d, storeErr(err)
}

// ListDevices implements verify.Store.
func (s *VerifyStore) ListDevices(ctx context.Context, customer phone.Number) ([]verify.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []verify.Device
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := vCalleePrefix(customer)
		c := tx.Bucket(vbDevices).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			d, err := vDecodeDevice(v)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreateTime.Equal(out[j].CreateTime) {
			return out[i].CreateTime.After(out[j].CreateTime)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// DeleteDevice implements verify.Store.
func (s *VerifyStore) DeleteDevice(ctx context.Context, customer phone.Number, id string, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storeErr(s.commit.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(vbDevices)
		k := vDeviceKey(customer, id)
		if b.Get(k) == nil {
			return fault.ErrNotFound
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		_, err := appendAudit(tx, ev)
		return err
	}))
}

// GetPreferences implements verify.Store.
func (s *VerifyStore) GetPreferences(ctx context.Context, customer phone.Number) (verify.Preferences, error) {
	if err := ctx.Err(); err != nil {
		return verify.Preferences{}, err
	}
	var r vPrefs
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(vbPrefs).Get(vCustomerKey(customer))
		if v == nil {
			return fault.ErrNotFound
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode preferences: %w", err)
		}
		return nil
	})
	if err != nil {
		return verify.Preferences{}, storeErr(err)
	}
	return verify.Preferences{MarketingCallsAllowed: r.MarketingCallsAllowed, UpdateTime: r.UpdateTime}, nil
}

// PutPreferences implements verify.Store.
func (s *VerifyStore) PutPreferences(ctx context.Context, customer phone.Number, p verify.Preferences, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(vPrefs{MarketingCallsAllowed: p.MarketingCallsAllowed, UpdateTime: p.UpdateTime})
	if err != nil {
		return err
	}
	return storeErr(s.commit.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(vbPrefs).Put(vCustomerKey(customer), v); err != nil {
			return err
		}
		_, err := appendAudit(tx, ev)
		return err
	}))
}
