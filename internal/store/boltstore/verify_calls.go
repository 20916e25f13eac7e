package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

func vGetCall(tx *bolt.Tx, id string) (vCall, error) {
	v := tx.Bucket(vbCalls).Get([]byte(id))
	if v == nil {
		return vCall{}, fault.ErrNotFound
	}
	r, err := vDecodeCall(v)
	if err != nil {
		return vCall{}, fmt.Errorf("decode call %s: %w", id, err)
	}
	return r, nil
}

func vPutCall(tx *bolt.Tx, r vCall) error {
	v, err := vEncodeCall(r)
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

// vExpiryIndexKey orders every call by its expire time, for PruneCalls. A
// call's expire time never changes, so the key is written once.
func vExpiryIndexKey(r vCall) []byte {
	k := binary.BigEndian.AppendUint64(nil, vTimeKey(r.ExpireTime))
	return append(k, r.ID...)
}

// vCallerRecord reads, in tx, the official record of n: whether it is a
// registered official number that places calls, and its generation. The
// official numbers are the numbers domain's (BlocklistStore); the calls
// domain reads them here so that stamping and the check are one
// transaction.
func vCallerRecord(tx *bolt.Tx, n phone.Number) (placesCalls bool, gen string, err error) {
	l, err := vCallerLine(tx, n)
	return l.PlacesCalls, l.Gen, err
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
func vEndCallsFrom(tx *bolt.Tx, caller phone.Number, at time.Time, notify func(string)) (int, error) {
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
		if err := vAppendEvent(tx, notify, phone.Number(r.Callee), verify.EventEnded, r.ID, at); err != nil {
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

// CreateCall implements verify.Store: the caller check, the call (with its
// caller's record's generation) and its event are one transaction.
func (s *VerifyStore) CreateCall(ctx context.Context, c verify.Call, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.CallbackRequestID = "" // only CreateCallbackCall answers a request
	return storeErr(s.commit.update(func(tx *bolt.Tx) error { return vCreateCall(tx, c, ev, s.notify) }))
}

// vCreateCall is CreateCall's step in tx: the caller check, the call (with
// its caller's record's generation), its indexes, its audit event and
// (for an active call) its STAMPED call event, whose watchers notify wakes
// once tx commits.
func vCreateCall(tx *bolt.Tx, c verify.Call, ev audit.Event, notify func(string)) error {
	r := vCallOf(c)
	ok, gen, err := vCallerRecord(tx, c.Caller)
	if err != nil {
		return err
	}
	if !ok || c.Gen != "" && c.Gen != gen {
		return fault.ErrFailedPrecondition
	}
	r.Gen = gen
	if tx.Bucket(vbCalls).Get([]byte(r.ID)) != nil {
		return fault.ErrAlreadyExists
	}
	if err := vPutCall(tx, r); err != nil {
		return err
	}
	if err := tx.Bucket(vbByCallee).Put(vCalleeIndexKey(r), nil); err != nil {
		return err
	}
	if err := tx.Bucket(vbByExpiry).Put(vExpiryIndexKey(r), nil); err != nil {
		return err
	}
	if verify.State(r.State) == verify.StateActive {
		if err := tx.Bucket(vbByCaller).Put(vCallerIndexKey(r), nil); err != nil {
			return err
		}
		if err := vAppendEvent(tx, notify, c.Callee, verify.EventStamped, r.ID, c.CreateTime); err != nil {
			return err
		}
	}
	_, err = appendAudit(tx, ev)
	return err
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

var _ verify.CallLineReader = (*VerifyStore)(nil)

// GetCallWithLine implements verify.CallLineReader: the call and its own
// caller's official record in one read transaction (the hint is for
// networked stores).
func (s *VerifyStore) GetCallWithLine(ctx context.Context, id string, _ phone.Number) (verify.Call, verify.CallerLine, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, verify.CallerLine{}, err
	}
	var (
		r    vCall
		line verify.CallerLine
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if r, err = vGetCall(tx, id); err != nil {
			return err
		}
		// A record that does not decode is left out (CallerLine reads it
		// again, and fails, for a call the request may use).
		if line, err = vCallerLine(tx, phone.Number(r.Caller)); err == nil {
			line.Number = phone.Number(r.Caller)
		}
		return nil
	})
	if err != nil {
		return verify.Call{}, verify.CallerLine{}, storeErr(err)
	}
	return r.call(), line, nil
}

// CallerLine implements verify.CallLineReader.
func (s *VerifyStore) CallerLine(ctx context.Context, n phone.Number) (verify.CallerLine, error) {
	if err := ctx.Err(); err != nil {
		return verify.CallerLine{}, err
	}
	var line verify.CallerLine
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		line, err = vCallerLine(tx, n)
		return err
	})
	if err != nil {
		return verify.CallerLine{}, storeErr(err)
	}
	line.Number = n
	return line, nil
}

// ListCallsTo implements verify.Store: active calls, latest expire time first.
func (s *VerifyStore) ListCallsTo(ctx context.Context, callee phone.Number, after time.Time, limit int) ([]verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []verify.Call
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = vListCallsTo(tx, callee, after, limit)
		return err
	})
	return out, storeErr(err)
}

// ListCallsToWithLine implements verify.LineReader: ListCallsTo and the
// caller's official record in one read transaction, where the check would
// otherwise read them in two, one of them on a goroutine of its own.
func (s *VerifyStore) ListCallsToWithLine(ctx context.Context, callee, caller phone.Number, after time.Time, limit int) ([]verify.Call, verify.CallerLine, error) {
	if err := ctx.Err(); err != nil {
		return nil, verify.CallerLine{}, err
	}
	var (
		out  []verify.Call
		line verify.CallerLine
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if out, err = vListCallsTo(tx, callee, after, limit); err != nil {
			return err
		}
		line, err = vCallerLine(tx, caller)
		return err
	})
	if err != nil {
		return nil, verify.CallerLine{}, storeErr(err)
	}
	return out, line, nil
}

// vListCallsTo is ListCallsTo in tx.
func vListCallsTo(tx *bolt.Tx, callee phone.Number, after time.Time, limit int) ([]verify.Call, error) {
	var out []verify.Call
	prefix := vCalleePrefix(callee)
	floor := vTimeKey(after)
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
			return nil, fmt.Errorf("bad call index key")
		}
		if binary.BigEndian.Uint64(rest[:8]) <= floor {
			break // everything further back expired by then
		}
		r, err := vGetCall(tx, string(rest[8:]))
		if err != nil {
			return nil, err
		}
		if verify.State(r.State) != verify.StateActive {
			continue
		}
		out = append(out, r.call())
	}
	return out, nil
}

// vCallerLine reads n's official record in tx, as verify.CallerLine.
func vCallerLine(tx *bolt.Tx, n phone.Number) (verify.CallerLine, error) {
	b := tx.Bucket(bOfficial)
	if b == nil {
		return verify.CallerLine{}, nil
	}
	v := b.Get([]byte(n.String()))
	if v == nil {
		return verify.CallerLine{}, nil
	}
	o, err := decodeOfficial(v)
	if err != nil {
		return verify.CallerLine{}, err
	}
	return verify.CallerLine{Registered: true, PlacesCalls: o.Direction.PlacesCalls(),
		InboundOnly: o.Direction == blocklist.DirectionInboundOnly, Gen: o.Gen}, nil
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
	err := s.commit.update(func(tx *bolt.Tx) error {
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
		if err := vAppendEvent(tx, s.notify, phone.Number(r.Callee), verify.EventEnded, r.ID, at); err != nil {
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
	err := s.commit.update(func(tx *bolt.Tx) error {
		var err error
		if n, err = vEndCallsFrom(tx, caller, at, s.notify); err != nil {
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
	err := s.commit.update(func(tx *bolt.Tx) error {
		matched = false // this may be a second run (see committer)
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
			if err := vAppendEvent(tx, s.notify, phone.Number(r.Callee), verify.EventConfirmed, r.ID, now); err != nil {
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
		if err := vAppendEvent(tx, s.notify, phone.Number(r.Callee), verify.EventLocked, r.ID, now); err != nil {
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
