package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
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

// Buckets of the calls domain.
var (
	vbCalls    = []byte("verify/calls")           // call id -> vCall
	vbByCallee = []byte("verify/calls_by_callee") // customer key 0x00 expire(8) call id -> ""
	vbByCaller = []byte("verify/calls_by_caller") // E.164 caller 0x00 expire(8) call id -> "", live calls only
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
		backfill := tx.Bucket(vbByCaller) == nil
		for _, b := range [][]byte{vbCalls, vbByCallee, vbByCaller, vbDevices, vbPrefs, vbKeys, vbMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if backfill {
			// A store written before the caller index existed: index its
			// live calls, so that ending a line's calls finds them all.
			return tx.Bucket(vbCalls).ForEach(func(k, v []byte) error {
				var r vCall
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("decode call %s: %w", k, err)
				}
				if verify.State(r.State) != verify.StateActive {
					return nil
				}
				return tx.Bucket(vbByCaller).Put(vCallerIndexKey(r), nil)
			})
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
	LastCodeStep  int64     `json:"last_code_step,omitempty"`
	ConfirmTime   time.Time `json:"confirm_time,omitzero"`
}

func vCallOf(c verify.Call) vCall {
	return vCall{
		ID: c.ID, Caller: c.Caller.String(), Callee: c.Callee.String(), CustomerID: c.CustomerID,
		Reason: int(c.Reason), ReasonText: c.ReasonText, OrderRef: c.OrderRef, AgentID: c.AgentID,
		AgentName: c.AgentName, DisplayName: c.DisplayName, OrigID: c.OrigID, CreateBy: c.CreateBy,
		State: int(c.State), WrongAttempts: c.WrongAttempts, CreateTime: c.CreateTime, ExpireTime: c.ExpireTime,
		EndTime: c.EndTime, DeviceID: c.DeviceID, SealedSecret: c.SealedSecret,
		LastCodeStep: c.LastCodeStep, ConfirmTime: c.ConfirmTime,
	}
}

func (r vCall) call() verify.Call {
	return verify.Call{
		ID: r.ID, Caller: phone.Number(r.Caller), Callee: phone.Number(r.Callee), CustomerID: r.CustomerID,
		Reason: verify.Reason(r.Reason), ReasonText: r.ReasonText, OrderRef: r.OrderRef, AgentID: r.AgentID,
		AgentName: r.AgentName, DisplayName: r.DisplayName, OrigID: r.OrigID, CreateBy: r.CreateBy,
		State: verify.State(r.State), WrongAttempts: r.WrongAttempts, CreateTime: r.CreateTime,
		ExpireTime: r.ExpireTime, EndTime: r.EndTime, DeviceID: r.DeviceID, SealedSecret: r.SealedSecret,
		LastCodeStep: r.LastCodeStep, ConfirmTime: r.ConfirmTime,
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

// vCallerPrefix is the index prefix of an official line's live calls. A
// caller is one of the platform's own numbers, not a customer's, so it is
// kept as it is.
func vCallerPrefix(n phone.Number) []byte { return append([]byte(n.String()), 0) }

func vCallerIndexKey(r vCall) []byte {
	k := vCallerPrefix(phone.Number(r.Caller))
	k = binary.BigEndian.AppendUint64(k, vTimeKey(r.ExpireTime))
	return append(k, r.ID...)
}

// vPlacesCalls reports whether n is, in tx, a registered official number
// that places calls. The official numbers are the numbers domain's
// (BlocklistStore); the calls domain reads them here so that stamping and
// the check are one transaction.
func vPlacesCalls(tx *bolt.Tx, n phone.Number) (bool, error) {
	b := tx.Bucket(bOfficial)
	if b == nil {
		return false, nil
	}
	v := b.Get([]byte(n.String()))
	if v == nil {
		return false, nil
	}
	o, err := decodeOfficial(v)
	if err != nil {
		return false, err
	}
	return o.Direction.PlacesCalls(), nil
}

// vSetNotLive stores r, which was live, with its new state (ENDED or
// LOCKED), and drops it from its line's index of live calls.
func vSetNotLive(tx *bolt.Tx, r vCall) error {
	if err := vPutCall(tx, r); err != nil {
		return err
	}
	if b := tx.Bucket(vbByCaller); b != nil {
		return b.Delete(vCallerIndexKey(r))
	}
	return nil
}

// vEndCallsFrom ends, in tx, every call from caller that is stored ACTIVE
// and not expired at at, and returns how many. BlocklistStore calls it when
// an official number is deleted.
func vEndCallsFrom(tx *bolt.Tx, caller phone.Number, at time.Time) (int, error) {
	idx := tx.Bucket(vbByCaller)
	if idx == nil {
		return 0, nil // no calls were ever stored
	}
	prefix := vCallerPrefix(caller)
	var keys [][]byte
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	n := 0
	floor := vTimeKey(at)
	for _, k := range keys {
		rest := k[len(prefix):]
		if len(rest) < 8 {
			return 0, fmt.Errorf("bad caller index key")
		}
		if binary.BigEndian.Uint64(rest[:8]) <= floor {
			// Expired by now: nothing to end, and nothing will again.
			if err := idx.Delete(k); err != nil {
				return 0, err
			}
			continue
		}
		r, err := vGetCall(tx, string(rest[8:]))
		if err != nil {
			return 0, err
		}
		if verify.State(r.State) != verify.StateActive || !at.Before(r.ExpireTime) {
			if err := idx.Delete(k); err != nil {
				return 0, err
			}
			continue
		}
		r.State = int(verify.StateEnded)
		r.EndTime = at
		if err := vSetNotLive(tx, r); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// withCount returns ev with After[key] = n, leaving the caller's map alone.
func withCount(ev audit.Event, key string, n int) audit.Event {
	after := make(map[string]any, len(ev.After)+1)
	for k, v := range ev.After {
		after[k] = v
	}
	after[key] = n
	ev.After = after
	return ev
}

// CreateCall implements verify.Store: the caller check, the call and its
// event are one transaction.
func (s *VerifyStore) CreateCall(ctx context.Context, c verify.Call, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := vCallOf(c)
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		ok, err := vPlacesCalls(tx, c.Caller)
		if err != nil {
			return err
		}
		if !ok {
			return fault.ErrFailedPrecondition
		}
		if tx.Bucket(vbCalls).Get([]byte(r.ID)) != nil {
			return fault.ErrAlreadyExists
		}
		if err := vPutCall(tx, r); err != nil {
			return err
		}
		if err := tx.Bucket(vbByCallee).Put(vCalleeIndexKey(r), nil); err != nil {
			return err
		}
		if verify.State(r.State) == verify.StateActive {
			if err := tx.Bucket(vbByCaller).Put(vCallerIndexKey(r), nil); err != nil {
				return err
			}
		}
		_, err = appendAudit(tx, ev)
		return err
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

// ListCallsFrom implements verify.Store. The cursor is the hex of the last
// listed call's index key after the caller prefix.
func (s *VerifyStore) ListCallsFrom(ctx context.Context, caller phone.Number, now time.Time, cursor string, limit int) ([]verify.Call, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	prefix := vCallerPrefix(caller)
	start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), vTimeKey(now)+1)
	if cursor != "" {
		rest, err := hex.DecodeString(cursor)
		if err != nil || len(rest) <= 8 {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		if k := append(bytes.Clone(prefix), rest...); bytes.Compare(k, start) > 0 {
			start = append(k, 0) // just past the last listed key
		}
	}
	var out []verify.Call
	next := ""
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(vbByCaller).Cursor()
		var last []byte
		for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rest := k[len(prefix):]
			if len(rest) <= 8 {
				return fmt.Errorf("bad caller index key")
			}
			r, err := vGetCall(tx, string(rest[8:]))
			if err != nil {
				return err
			}
			if verify.State(r.State) != verify.StateActive || !now.Before(r.ExpireTime) {
				continue
			}
			if len(out) == limit {
				next = hex.EncodeToString(last)
				return nil
			}
			out = append(out, r.call())
			last = bytes.Clone(rest)
		}
		return nil
	})
	if err != nil {
		return nil, "", storeErr(err)
	}
	return out, next, nil
}

// EndCall implements verify.Store.
func (s *VerifyStore) EndCall(ctx context.Context, id, by string, at time.Time, ev audit.Event) (verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, err
	}
	var r vCall
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = vGetCall(tx, id); err != nil {
			return err
		}
		if by != "" && r.CreateBy != by {
			return fault.ErrNotFound
		}
		if verify.State(r.State) != verify.StateActive || !at.Before(r.ExpireTime) {
			return nil
		}
		r.State = int(verify.StateEnded)
		r.EndTime = at
		if err := vSetNotLive(tx, r); err != nil {
			return err
		}
		_, err = appendAudit(tx, ev)
		return err
	})
	if err != nil {
		return verify.Call{}, storeErr(err)
	}
	return r.call(), nil
}

// EndCallsFrom implements verify.Store.
func (s *VerifyStore) EndCallsFrom(ctx context.Context, caller phone.Number, at time.Time, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if n, err = vEndCallsFrom(tx, caller, at); err != nil {
			return err
		}
		_, err = appendAudit(tx, withCount(ev, "ended_calls", n))
		return err
	})
	if err != nil {
		return 0, storeErr(err)
	}
	return n, nil
}

// RecordCodeAttempt implements verify.Store: the check, the use of the
// code and its event (or the count of a wrong one, and the lock's event)
// are one transaction, so a code matches once however many confirm it at once.
func (s *VerifyStore) RecordCodeAttempt(ctx context.Context, id string, step int64, limit int, now time.Time, lock, confirm audit.Event) (verify.Call, bool, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, false, err
	}
	var (
		r       vCall
		matched bool
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = vGetCall(tx, id); err != nil {
			return err
		}
		if verify.State(r.State) != verify.StateActive || !now.Before(r.ExpireTime) || r.WrongAttempts >= limit {
			return fault.ErrConflict
		}
		if step > 0 && step > r.LastCodeStep {
			matched = true
			r.LastCodeStep = step
			r.ConfirmTime = now
			if err := vPutCall(tx, r); err != nil {
				return err
			}
			_, err = appendAudit(tx, confirm)
			return err
		}
		r.WrongAttempts++
		if r.WrongAttempts < limit {
			return vPutCall(tx, r)
		}
		r.State = int(verify.StateLocked)
		if err := vSetNotLive(tx, r); err != nil {
			return err
		}
		_, err = appendAudit(tx, lock)
		return err
	})
	if err != nil {
		return verify.Call{}, false, storeErr(err)
	}
	return r.call(), matched, nil
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
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
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
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(vbPrefs).Put(vCustomerKey(customer), v); err != nil {
			return err
		}
		_, err := appendAudit(tx, ev)
		return err
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
