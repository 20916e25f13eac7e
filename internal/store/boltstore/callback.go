package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Buckets of the callbacks domain. A waiting request (stored OPEN or
// CLAIMED) is in cbQueue and cbDue; a final one in cbFinal.
var (
	cbRequests   = []byte("callback/requests")    // request id -> cbRecord
	cbQueue      = []byte("callback/queue")       // create(8) id -> "", waiting requests, oldest first
	cbDue        = []byte("callback/by_expiry")   // expire(8) id -> "", waiting requests, for ExpireRequests
	cbFinal      = []byte("callback/by_final")    // final(8) id -> "", final requests, for PruneRequests
	cbByCustomer = []byte("callback/by_customer") // customer key 0x00 create(8) id -> ""
)

// cbRecord is a request as stored, decoupled from the domain's struct.
type cbRecord struct {
	ID          string    `json:"id"`
	Customer    string    `json:"customer"`
	CustomerID  string    `json:"customer_id,omitempty"`
	Reason      int       `json:"reason"`
	OrderRef    string    `json:"order_ref,omitempty"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	Language    string    `json:"language"`
	State       int       `json:"state"`
	CreateTime  time.Time `json:"create_time"`
	ExpireTime  time.Time `json:"expire_time"`
	ClaimedBy   string    `json:"claimed_by,omitempty"`
	ClaimTime   time.Time `json:"claim_time,omitzero"`
	ClaimUntil  time.Time `json:"claim_until,omitzero"`
	CallID      string    `json:"call_id,omitempty"`
	FinalTime   time.Time `json:"final_time,omitzero"`
}

func cbRecordOf(r callback.Request) cbRecord {
	return cbRecord{
		ID: r.ID, Customer: r.Customer.String(), CustomerID: r.CustomerID, Reason: r.Reason, OrderRef: r.OrderRef,
		WindowStart: r.Window.Start, WindowEnd: r.Window.End, Language: r.Language, State: int(r.State),
		CreateTime: r.CreateTime, ExpireTime: r.ExpireTime, ClaimedBy: r.ClaimedBy, ClaimTime: r.ClaimTime,
		ClaimUntil: r.ClaimUntil, CallID: r.CallID, FinalTime: r.FinalTime,
	}
}

func (r cbRecord) request() callback.Request {
	return callback.Request{
		ID: r.ID, Customer: phone.Number(r.Customer), CustomerID: r.CustomerID, Reason: r.Reason, OrderRef: r.OrderRef,
		Window: callback.Window{Start: r.WindowStart, End: r.WindowEnd}, Language: r.Language,
		State: callback.State(r.State), CreateTime: r.CreateTime, ExpireTime: r.ExpireTime, ClaimedBy: r.ClaimedBy,
		ClaimTime: r.ClaimTime, ClaimUntil: r.ClaimUntil, CallID: r.CallID, FinalTime: r.FinalTime,
	}
}

func cbTimeKey(t time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, vTimeKey(t)), id...)
}

func cbCustomerKey(r cbRecord) []byte {
	return append(vCalleePrefix(phone.Number(r.Customer)), cbTimeKey(r.CreateTime, r.ID)...)
}

func cbGet(tx *bolt.Tx, id string) (cbRecord, error) {
	b := tx.Bucket(cbRequests)
	if b == nil {
		return cbRecord{}, fault.ErrNotFound
	}
	v := b.Get([]byte(id))
	if v == nil {
		return cbRecord{}, fault.ErrNotFound
	}
	var r cbRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return cbRecord{}, fmt.Errorf("decode callback request %s: %w", id, err)
	}
	return r, nil
}

func cbPut(tx *bolt.Tx, r cbRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(cbRequests).Put([]byte(r.ID), v)
}

// cbFinish stores r, which was waiting, in its final state at final: out
// of the queue and the expiry index, into the retention index.
func cbFinish(tx *bolt.Tx, r cbRecord, st callback.State, final time.Time) error {
	r.State, r.FinalTime = int(st), final
	if err := cbPut(tx, r); err != nil {
		return err
	}
	if err := tx.Bucket(cbQueue).Delete(cbTimeKey(r.CreateTime, r.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(cbDue).Delete(cbTimeKey(r.ExpireTime, r.ID)); err != nil {
		return err
	}
	return tx.Bucket(cbFinal).Put(cbTimeKey(final, r.ID), nil)
}

// cbAnswer is the callback half of VerifyStore.CreateCallbackCall, in its
// transaction: the request must be claimed by by for customer at at; it
// becomes CALLED with callID.
func cbAnswer(tx *bolt.Tx, id, by string, customer phone.Number, callID string, at time.Time) error {
	r, err := cbGet(tx, id)
	if err != nil {
		return fault.ErrConflict // unknown is refused like any other
	}
	req := r.request()
	if !req.ClaimedByAt(by, at) || req.Customer != customer {
		return fault.ErrConflict
	}
	r.CallID = callID
	return cbFinish(tx, r, callback.StateCalled, at)
}

// CallbackStore is callback.Store on bbolt, in the same file as the calls
// (VerifyStore), so that a call and the request it answers are one
// transaction.
type CallbackStore struct {
	db *bolt.DB
}

var _ callback.Store = (*CallbackStore)(nil)

// CountWaiting implements callback.Store: the keys of the queue bucket.
func (s *CallbackStore) CountWaiting(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(cbQueue).Stats().KeyN
		return nil
	})
	return n, storeErr(err)
}

// NewCallbackStore creates the buckets it needs in db.
func NewCallbackStore(db *bolt.DB) (*CallbackStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{cbRequests, cbQueue, cbDue, cbFinal, cbByCustomer} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create callback buckets: %w", err)
	}
	return &CallbackStore{db: db}, nil
}

// NewRequestID implements callback.Store: 128 random bits.
func (s *CallbackStore) NewRequestID(phone.Number) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return callIDEncoding.EncodeToString(b[:])
}

// CreateRequest implements callback.Store.
func (s *CallbackStore) CreateRequest(ctx context.Context, req callback.Request, maxOpen int, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := cbRecordOf(req)
	return storeErr(s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(cbRequests).Get([]byte(r.ID)) != nil {
			return fault.ErrAlreadyExists
		}
		waiting := 0
		prefix := vCalleePrefix(req.Customer)
		c := tx.Bucket(cbByCustomer).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			o, err := cbGet(tx, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			if o.request().Waiting(req.CreateTime) {
				waiting++
			}
		}
		if waiting >= maxOpen {
			return fault.ErrResourceExhausted
		}
		if err := cbPut(tx, r); err != nil {
			return err
		}
		for _, p := range []struct{ b, k []byte }{
			{cbQueue, cbTimeKey(r.CreateTime, r.ID)}, {cbDue, cbTimeKey(r.ExpireTime, r.ID)}, {cbByCustomer, cbCustomerKey(r)},
		} {
			if err := tx.Bucket(p.b).Put(p.k, nil); err != nil {
				return err
			}
		}
		_, err := appendAudit(tx, ev)
		return err
	}))
}

// GetRequest implements callback.Store.
func (s *CallbackStore) GetRequest(ctx context.Context, id string) (callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return callback.Request{}, err
	}
	var r cbRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = cbGet(tx, id)
		return err
	})
	if err != nil {
		return callback.Request{}, storeErr(err)
	}
	return r.request(), nil
}

// ListByCustomer implements callback.Store.
func (s *CallbackStore) ListByCustomer(ctx context.Context, customer phone.Number, limit int) ([]callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []callback.Request
	prefix := vCalleePrefix(customer)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(cbByCustomer).Cursor()
		k, _ := c.Seek(append(vCustomerKey(customer), 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			r, err := cbGet(tx, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			out = append(out, r.request())
		}
		return nil
	})
	return out, storeErr(err)
}

// QueuePosition implements callback.Store.
func (s *CallbackStore) QueuePosition(ctx context.Context, id string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	pos := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		r, err := cbGet(tx, id)
		if err != nil {
			return err
		}
		if r.request().StateAt(now) != callback.StateOpen {
			return nil
		}
		own := cbTimeKey(r.CreateTime, r.ID)
		pos = 1
		c := tx.Bucket(cbQueue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, own) < 0; k, _ = c.Next() {
			o, err := cbGet(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if o.request().Waiting(now) {
				pos++
			}
		}
		return nil
	})
	return pos, storeErr(err)
}

// listOpenScan bounds how many queue entries one page examines, so that a
// filter matching few requests cannot make one read walk the whole queue.
const listOpenScan = 2000

// ListOpen implements callback.Store. The cursor is the hex of the last
// queue key examined.
func (s *CallbackStore) ListOpen(ctx context.Context, now time.Time, reason int, cursor string, limit int) ([]callback.Request, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	var start []byte
	if cursor != "" {
		k, err := hex.DecodeString(cursor)
		if err != nil || len(k) <= 8 {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		start = append(k, 0)
	}
	var out []callback.Request
	next := ""
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(cbQueue).Cursor()
		k, _ := c.First()
		if start != nil {
			k, _ = c.Seek(start)
		}
		var last []byte
		for seen := 0; k != nil; k, _ = c.Next() {
			if len(out) == limit || seen == listOpenScan {
				next = hex.EncodeToString(last)
				return nil
			}
			seen++
			last = bytes.Clone(k)
			r, err := cbGet(tx, string(k[8:]))
			if err != nil {
				return err
			}
			req := r.request()
			if req.StateAt(now) == callback.StateOpen && (reason == 0 || req.Reason == reason) {
				out = append(out, req)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", storeErr(err)
	}
	return out, next, nil
}

// Claim implements callback.Store.
func (s *CallbackStore) Claim(ctx context.Context, id, by string, now, until time.Time, ev, released audit.Event) (callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return callback.Request{}, err
	}
	var r cbRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = cbGet(tx, id); err != nil {
			return err
		}
		if r.request().StateAt(now) != callback.StateOpen {
			return fault.ErrConflict
		}
		if callback.State(r.State) == callback.StateClaimed {
			released.Before = withField(released.Before, "claimed_by", r.ClaimedBy)
			if _, err := appendAudit(tx, released); err != nil {
				return err
			}
		}
		r.State, r.ClaimedBy, r.ClaimTime, r.ClaimUntil = int(callback.StateClaimed), by, now, until
		if err := cbPut(tx, r); err != nil {
			return err
		}
		_, err = appendAudit(tx, ev)
		return err
	})
	if err != nil {
		return callback.Request{}, storeErr(err)
	}
	return r.request(), nil
}

// withField returns m with k = v, leaving the caller's map alone.
func withField(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// Cancel implements callback.Store.
func (s *CallbackStore) Cancel(ctx context.Context, id string, customer phone.Number, now time.Time, ev audit.Event) (callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return callback.Request{}, err
	}
	var r cbRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = cbGet(tx, id); err != nil {
			return err
		}
		if r.Customer != customer.String() || !r.request().Waiting(now) {
			return fault.ErrNotFound
		}
		if err := cbFinish(tx, r, callback.StateCancelled, now); err != nil {
			return err
		}
		r.State, r.FinalTime = int(callback.StateCancelled), now
		_, err = appendAudit(tx, ev)
		return err
	})
	if err != nil {
		return callback.Request{}, storeErr(err)
	}
	return r.request(), nil
}

// ExpireRequests implements callback.Store.
func (s *CallbackStore) ExpireRequests(ctx context.Context, now time.Time, limit int, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	var ids []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		var keys [][]byte
		c := tx.Bucket(cbDue).Cursor()
		floor := vTimeKey(now)
		for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
			if binary.BigEndian.Uint64(k[:8]) > floor {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			r, err := cbGet(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if err := cbFinish(tx, r, callback.StateExpired, r.ExpireTime); err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		ev = withCount(ev, "expired_callbacks", len(ids))
		ev.After["request_ids"] = ids
		_, err := appendAudit(tx, ev)
		return err
	})
	if err != nil {
		return 0, storeErr(err)
	}
	return len(ids), nil
}

// PruneRequests implements callback.Store.
func (s *CallbackStore) PruneRequests(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		var keys [][]byte
		c := tx.Bucket(cbFinal).Cursor()
		floor := vTimeKey(before)
		for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
			if binary.BigEndian.Uint64(k[:8]) >= floor {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			r, err := cbGet(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if err := tx.Bucket(cbRequests).Delete([]byte(r.ID)); err != nil {
				return err
			}
			if err := tx.Bucket(cbByCustomer).Delete(cbCustomerKey(r)); err != nil {
				return err
			}
			if err := tx.Bucket(cbFinal).Delete(k); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		_, err := appendAudit(tx, withCount(ev, "pruned_callbacks", n))
		return err
	})
	if err != nil {
		return 0, storeErr(err)
	}
	return n, nil
}
