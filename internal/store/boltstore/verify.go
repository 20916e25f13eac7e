package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Buckets of the calls domain.
var (
	vbCalls    = []byte("verify/calls")           // call id -> vCall
	vbByCallee = []byte("verify/calls_by_callee") // customer key 0x00 expire(8) call id -> ""
	vbDevices  = []byte("verify/devices")         // customer key 0x00 device id -> vDevice
	vbPrefs    = []byte("verify/preferences")     // customer key -> vPrefs
	vbKeys     = []byte("verify/signing_keys")    // kid -> vKey
	vbMeta     = []byte("verify/meta")            // vCurrentKey -> kid
)

var vCurrentKey = []byte("current_signing_key")

// vCustomerKey is the one place where a customer's identity becomes a store
// key. Today it is the E.164 number; HMAC'ing it (with a list of keys so
// they can rotate) changes only this function.
func vCustomerKey(n phone.Number) []byte { return []byte(n.String()) }

// VerifyStore is verify.Store on bbolt. Each method is one bbolt
// transaction, which bbolt serialises, so every method is atomic.
type VerifyStore struct {
	db *bolt.DB
}

var _ verify.Store = (*VerifyStore)(nil)

// NewVerifyStore creates the buckets it needs in db.
func NewVerifyStore(db *bolt.DB) (*VerifyStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{vbCalls, vbByCallee, vbDevices, vbPrefs, vbKeys, vbMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create verify buckets: %w", err)
	}
	return &VerifyStore{db: db}, nil
}

// Stored forms, decoupled from the domain's structs so that a rename there
// does not silently change the file format.
type vCall struct {
	ID            string    `json:"id"`
	Caller        string    `json:"caller"`
	Callee        string    `json:"callee"`
	CustomerID    string    `json:"customer_id,omitempty"`
	Reason        int       `json:"reason"`
	ReasonText    string    `json:"reason_text,omitempty"`
	OrderRef      string    `json:"order_ref,omitempty"`
	AgentID       string    `json:"agent_id"`
	AgentName     string    `json:"agent_name"`
	DisplayName   string    `json:"display_name,omitempty"`
	OrigID        string    `json:"origid"`
	CreateBy      string    `json:"create_by,omitempty"`
	State         int       `json:"state"`
	WrongAttempts int       `json:"wrong_attempts"`
	CreateTime    time.Time `json:"create_time"`
	ExpireTime    time.Time `json:"expire_time"`
	EndTime       time.Time `json:"end_time"`
	DeviceID      string    `json:"device_id,omitempty"`
	SealedSecret  []byte    `json:"sealed_secret"`
}

func vCallOf(c verify.Call) vCall {
	return vCall{
		ID: c.ID, Caller: c.Caller.String(), Callee: c.Callee.String(), CustomerID: c.CustomerID,
		Reason: int(c.Reason), ReasonText: c.ReasonText, OrderRef: c.OrderRef, AgentID: c.AgentID,
		AgentName: c.AgentName, DisplayName: c.DisplayName, OrigID: c.OrigID, CreateBy: c.CreateBy,
		State: int(c.State), WrongAttempts: c.WrongAttempts, CreateTime: c.CreateTime, ExpireTime: c.ExpireTime,
		EndTime: c.EndTime, DeviceID: c.DeviceID, SealedSecret: c.SealedSecret,
	}
}

func (r vCall) call() verify.Call {
	return verify.Call{
		ID: r.ID, Caller: phone.Number(r.Caller), Callee: phone.Number(r.Callee), CustomerID: r.CustomerID,
		Reason: verify.Reason(r.Reason), ReasonText: r.ReasonText, OrderRef: r.OrderRef, AgentID: r.AgentID,
		AgentName: r.AgentName, DisplayName: r.DisplayName, OrigID: r.OrigID, CreateBy: r.CreateBy,
		State: verify.State(r.State), WrongAttempts: r.WrongAttempts, CreateTime: r.CreateTime,
		ExpireTime: r.ExpireTime, EndTime: r.EndTime, DeviceID: r.DeviceID, SealedSecret: r.SealedSecret,
	}
}

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

func vGetCall(tx *bolt.Tx, id string) (vCall, error) {
	v := tx.Bucket(vbCalls).Get([]byte(id))
	if v == nil {
		return vCall{}, fault.ErrNotFound
	}
	var r vCall
	if err := json.Unmarshal(v, &r); err != nil {
		return vCall{}, fmt.Errorf("decode call %s: %w", id, err)
	}
	return r, nil
}

func vPutCall(tx *bolt.Tx, r vCall) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(vbCalls).Put([]byte(r.ID), v)
}

// vCalleePrefix is the index prefix of a customer's calls; the 0x00 ends
// the customer key, so one number is never a prefix of another's calls.
func vCalleePrefix(n phone.Number) []byte {
	return append(vCustomerKey(n), 0)
}

func vCalleeIndexKey(r vCall) []byte {
	k := vCalleePrefix(phone.Number(r.Callee))
	k = binary.BigEndian.AppendUint64(k, vTimeKey(r.ExpireTime))
	return append(k, r.ID...)
}

// vTimeKey orders times as unsigned big-endian bytes (times before 1970
// sort first).
func vTimeKey(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }

// CreateCall implements verify.Store.
func (s *VerifyStore) CreateCall(ctx context.Context, c verify.Call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := vCallOf(c)
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(vbCalls).Get([]byte(r.ID)) != nil {
			return fault.ErrAlreadyExists
		}
		if err := vPutCall(tx, r); err != nil {
			return err
		}
		return tx.Bucket(vbByCallee).Put(vCalleeIndexKey(r), nil)
	}))
}

// GetCall implements verify.Store.
func (s *VerifyStore) GetCall(ctx context.Context, id string) (verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, err
	}
	var r vCall
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = vGetCall(tx, id)
		return err
	})
	if err != nil {
		return verify.Call{}, storeErr(err)
	}
	return r.call(), nil
}

// ListCallsTo implements verify.Store: active calls, latest expire time first.
func (s *VerifyStore) ListCallsTo(ctx context.Context, callee phone.Number, after time.Time, limit int) ([]verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []verify.Call
	prefix := vCalleePrefix(callee)
	floor := vTimeKey(after)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(vbByCallee).Cursor()
		// Start just past the last key of this customer and walk back.
		end := append(vCustomerKey(callee), 1)
		k, _ := c.Seek(end)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			rest := k[len(prefix):]
			if len(rest) < 8 {
				return fmt.Errorf("bad call index key")
			}
			if binary.BigEndian.Uint64(rest[:8]) <= floor {
				break // everything further back expired by then
			}
			r, err := vGetCall(tx, string(rest[8:]))
			if err != nil {
				return err
			}
			if verify.State(r.State) != verify.StateActive {
				continue
			}
			out = append(out, r.call())
		}
		return nil
	})
	return out, storeErr(err)
}

// EndCall implements verify.Store.
func (s *VerifyStore) EndCall(ctx context.Context, id string, at time.Time) (verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, err
	}
	var r vCall
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = vGetCall(tx, id); err != nil {
			return err
		}
		if verify.State(r.State) != verify.StateActive || !at.Before(r.ExpireTime) {
			return nil
		}
		r.State = int(verify.StateEnded)
		r.EndTime = at
		return vPutCall(tx, r)
	})
	if err != nil {
		return verify.Call{}, storeErr(err)
	}
	return r.call(), nil
}

// RecordCodeAttempt implements verify.Store.
func (s *VerifyStore) RecordCodeAttempt(ctx context.Context, id string, correct bool, limit int, now time.Time) (verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, err
	}
	var r vCall
	decide := func(tx *bolt.Tx) error {
		var err error
		if r, err = vGetCall(tx, id); err != nil {
			return err
		}
		if verify.State(r.State) != verify.StateActive || !now.Before(r.ExpireTime) || r.WrongAttempts >= limit {
			return fault.ErrConflict
		}
		if correct {
			return nil
		}
		r.WrongAttempts++
		if r.WrongAttempts >= limit {
			r.State = int(verify.StateLocked)
		}
		return vPutCall(tx, r)
	}
	var err error
	if correct {
		err = s.db.View(decide) // a consistent snapshot is enough: nothing changes
	} else {
		err = s.db.Update(decide)
	}
	if err != nil {
		return verify.Call{}, storeErr(err)
	}
	return r.call(), nil
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
func (s *VerifyStore) CreateDevice(ctx context.Context, d verify.Device, limit int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(vDevice{ID: d.ID, Customer: d.Customer.String(), Label: d.Label,
		SealedSecret: d.SealedSecret, CreateTime: d.CreateTime})
	if err != nil {
		return err
	}
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
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
		return b.Put(k, v)
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
func (s *VerifyStore) DeleteDevice(ctx context.Context, customer phone.Number, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(vbDevices)
		k := vDeviceKey(customer, id)
		if b.Get(k) == nil {
			return fault.ErrNotFound
		}
		return b.Delete(k)
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
func (s *VerifyStore) PutPreferences(ctx context.Context, customer phone.Number, p verify.Preferences) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(vPrefs{MarketingCallsAllowed: p.MarketingCallsAllowed, UpdateTime: p.UpdateTime})
	if err != nil {
		return err
	}
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(vbPrefs).Put(vCustomerKey(customer), v)
	}))
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
	sort.SliceStable(out, func(i, j int) bool { return vKeyNewer(out[i], out[j]) })
	return out, nil
}

// vKeyNewer orders keys as verify.Store.ListSigningKeys promises: the
// current key first, then the most recently retired. Creation times alone
// cannot tell a rotation made in the same clock tick.
func vKeyNewer(a, b verify.SigningKey) bool {
	if (a.State == verify.KeyCurrent) != (b.State == verify.KeyCurrent) {
		return a.State == verify.KeyCurrent
	}
	if !a.RetireTime.Equal(b.RetireTime) {
		return a.RetireTime.After(b.RetireTime)
	}
	if !a.CreateTime.Equal(b.CreateTime) {
		return a.CreateTime.After(b.CreateTime)
	}
	return a.ID > b.ID
}

// RotateSigningKey implements verify.Store: compare-and-swap on the current
// key id, in one transaction.
func (s *VerifyStore) RotateSigningKey(ctx context.Context, expectCurrent string, next verify.SigningKey, retireTime, publishUntil time.Time) error {
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
		return meta.Put(vCurrentKey, []byte(next.ID))
	}))
}
