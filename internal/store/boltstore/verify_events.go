package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// The outbox of call events (verify.EventLog). Every event is written in
// the transaction of the change it tells, under the bucket's own sequence:
//
//	verify/events         customer key 0x00 seq(8) -> vEvent
//	verify/events_by_seq  seq(8) -> vEventRef, every event, for pruning and
//	                      for the time of a position
//	verify/meta           events_pruned_through -> seq(8): events up to it
//	                      may be gone, so a position before it cannot resume
//
// A position (an event id) is the sequence number in decimal.
var (
	vbEvents      = []byte("verify/events")
	vbEventsBySeq = []byte("verify/events_by_seq")
	vPrunedKey    = []byte("events_pruned_through")
)

type vEvent struct {
	Type   int       `json:"t"`
	CallID string    `json:"c"`
	Time   time.Time `json:"at"`
}

type vEventRef struct {
	Customer []byte    `json:"k"`
	Time     time.Time `json:"at"`
}

func vEventKey(customer []byte, seq uint64) []byte {
	k := append(bytes.Clone(customer), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// vAppendEvent appends, in tx, an event of type t about call id to callee's
// feed, and wakes callee's watchers once tx has committed (notify may be
// nil: the watchers then see it at their next look).
func vAppendEvent(tx *bolt.Tx, notify func(string), callee phone.Number, t verify.EventType, id string, at time.Time) error {
	b, err := tx.CreateBucketIfNotExists(vbEvents)
	if err != nil {
		return err
	}
	bySeq, err := tx.CreateBucketIfNotExists(vbEventsBySeq)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	cust := vCustomerKey(callee)
	v, err := json.Marshal(vEvent{Type: int(t), CallID: id, Time: at.UTC()})
	if err != nil {
		return err
	}
	if err := b.Put(vEventKey(cust, seq), v); err != nil {
		return err
	}
	ref, err := json.Marshal(vEventRef{Customer: cust, Time: at.UTC()})
	if err != nil {
		return err
	}
	if err := bySeq.Put(binary.BigEndian.AppendUint64(nil, seq), ref); err != nil {
		return err
	}
	if notify != nil {
		key := string(cust)
		tx.OnCommit(func() { notify(key) })
	}
	return nil
}

// notify is what the store's own steps wake watchers with.
func (s *VerifyStore) notify(key string) { s.hub.Notify(key) }

// notifier is notify for another store's steps, nil when there is no
// calls store (s is nil).
func (s *VerifyStore) notifier() func(string) {
	if s == nil {
		return nil
	}
	return s.notify
}

var _ verify.EventLog = (*VerifyStore)(nil)

// EventsHead implements verify.EventLog: the latest sequence number.
func (s *VerifyStore) EventsHead(ctx context.Context, _ phone.Number) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(vbEvents); b != nil {
			seq = b.Sequence()
		}
		return nil
	})
	return strconv.FormatUint(seq, 10), storeErr(err)
}

// EventsAfter implements verify.EventLog.
func (s *VerifyStore) EventsAfter(ctx context.Context, customer phone.Number, since string, limit int) (verify.EventPage, error) {
	if err := ctx.Err(); err != nil {
		return verify.EventPage{}, err
	}
	from, err := strconv.ParseUint(since, 10, 64)
	if err != nil {
		return verify.EventPage{}, verify.ErrCursorGone
	}
	var (
		out []verify.CallEvent
		at  time.Time
	)
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(vbEvents)
		if b == nil {
			if from != 0 {
				return verify.ErrCursorGone
			}
			return nil
		}
		if from > b.Sequence() {
			return verify.ErrCursorGone // not a position of this store
		}
		if p := tx.Bucket(vbMeta).Get(vPrunedKey); len(p) == 8 && from < binary.BigEndian.Uint64(p) {
			return verify.ErrCursorGone // events after it may have been pruned
		}
		if ref := tx.Bucket(vbEventsBySeq).Get(binary.BigEndian.AppendUint64(nil, from)); ref != nil {
			var r vEventRef
			if err := json.Unmarshal(ref, &r); err == nil {
				at = r.Time
			}
		}
		cust := vCustomerKey(customer)
		prefix := append(bytes.Clone(cust), 0)
		c := b.Cursor()
		for k, v := c.Seek(vEventKey(cust, from+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("bad event key")
			}
			var e vEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode event: %w", err)
			}
			out = append(out, verify.CallEvent{
				ID:   strconv.FormatUint(binary.BigEndian.Uint64(k[len(prefix):]), 10),
				Type: verify.EventType(e.Type), Time: e.Time, CallID: e.CallID,
			})
		}
		return nil
	})
	if errors.Is(err, verify.ErrCursorGone) {
		return verify.EventPage{}, err
	}
	if err != nil {
		return verify.EventPage{}, storeErr(err)
	}
	page := verify.EventPage{Events: out, Next: since, More: len(out) == limit, SinceTime: at}
	if len(out) > 0 {
		page.Next = out[len(out)-1].ID
	}
	return page, nil
}

// SubscribeEvents implements verify.EventLog: one process holds the file,
// so its own steps are every change there is.
func (s *VerifyStore) SubscribeEvents(customer phone.Number) (<-chan struct{}, func()) {
	return s.hub.Subscribe(string(vCustomerKey(customer)))
}

// PruneEvents implements verify.EventLog: the oldest events first, at most
// limit in one transaction.
func (s *VerifyStore) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		bySeq, events := tx.Bucket(vbEventsBySeq), tx.Bucket(vbEvents)
		if bySeq == nil || events == nil {
			return nil
		}
		var last []byte
		var drop [][2][]byte
		c := bySeq.Cursor()
		for k, v := c.First(); k != nil && len(drop) < limit; k, v = c.Next() {
			var r vEventRef
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode event ref: %w", err)
			}
			if !r.Time.Before(before) {
				break
			}
			drop = append(drop, [2][]byte{bytes.Clone(k), vEventKey(r.Customer, binary.BigEndian.Uint64(k))})
			last = bytes.Clone(k)
		}
		for _, d := range drop {
			if err := bySeq.Delete(d[0]); err != nil {
				return err
			}
			if err := events.Delete(d[1]); err != nil {
				return err
			}
		}
		n = len(drop)
		if last == nil {
			return nil
		}
		return tx.Bucket(vbMeta).Put(vPrunedKey, last)
	})
	if err != nil {
		return 0, storeErr(err)
	}
	return n, nil
}
