package boltstore

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

var bAudit = []byte("audit/events")

// AuditStore is audit.Store on bbolt. Events are keyed by the bucket's
// sequence, so key order is append order and IDs never repeat.
type AuditStore struct {
	db     *bolt.DB
	commit *committer // appends are grouped with concurrent ones
}

var _ audit.Store = (*AuditStore)(nil)

// NewAuditStore creates the bucket it needs in db.
func NewAuditStore(db *bolt.DB) (*AuditStore, error) {
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bAudit)
		return err
	}); err != nil {
		return nil, fmt.Errorf("create audit bucket: %w", err)
	}
	return &AuditStore{db: db, commit: newCommitter(db)}, nil
}

// AppendAuditEvent implements audit.Store.
func (s *AuditStore) AppendAuditEvent(ctx context.Context, e audit.Event) (audit.Event, error) {
	if err := ctx.Err(); err != nil {
		return audit.Event{}, err
	}
	var out audit.Event
	err := s.commit.update(func(tx *bolt.Tx) error {
		var err error
		out, err = appendAudit(tx, e)
		return err
	})
	return out, storeErr(err)
}

// appendAudit appends e inside tx and returns it with its ID. Every store
// method that changes state appends its event through this, in the same
// transaction as the change, so that a change is never committed without
// its record (nor a record without its change).
func appendAudit(tx *bolt.Tx, e audit.Event) (audit.Event, error) {
	b, err := tx.CreateBucketIfNotExists(bAudit)
	if err != nil {
		return audit.Event{}, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return audit.Event{}, err
	}
	k := binary.BigEndian.AppendUint64(nil, seq)
	e.ID = hex.EncodeToString(k)
	v, err := encodeAuditEvent(e)
	if err != nil {
		return audit.Event{}, err
	}
	return e, b.Put(k, v)
}

// An event is stored as its JSON, or, when that is longer than
// auditDeflateMin, as auditDeflated and the JSON compressed (DEFLATE, RFC
// 1951). The large events are an import's, which list the patterns each
// batch created and updated: some 17 bytes a row in JSON, 6 deflated,
// which at 10M imported entries is a tenth of the store. JSON starts
// with '{', never with auditDeflated.
const (
	auditDeflated   = 1
	auditDeflateMin = 1024
)

// deflaters keeps flate writers, which cost some hundreds of kB each to
// make.
var deflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		panic(err) // only for a bad level
	}
	return w
}}

func encodeAuditEvent(e audit.Event) ([]byte, error) {
	v, err := json.Marshal(e)
	if err != nil || len(v) <= auditDeflateMin {
		return v, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(v)/2))
	buf.WriteByte(auditDeflated)
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(buf)
	if _, err := w.Write(v); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// inflaters keeps flate readers (some tens of kB each) for a listing's
// deflated events.
var inflaters sync.Pool

func decodeAuditEvent(v []byte) (audit.Event, error) {
	var e audit.Event
	if len(v) > 0 && v[0] == auditDeflated {
		src := bytes.NewReader(v[1:])
		r, _ := inflaters.Get().(io.ReadCloser)
		if r == nil {
			r = flate.NewReader(src)
		} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
			return audit.Event{}, err
		}
		defer inflaters.Put(r)
		if err := json.NewDecoder(r).Decode(&e); err != nil {
			return audit.Event{}, err
		}
		return e, nil
	}
	err := json.Unmarshal(v, &e)
	return e, err
}

// ListAuditEvents implements audit.Store.
func (s *AuditStore) ListAuditEvents(ctx context.Context, f audit.Filter, limit int, cursor string) ([]audit.Event, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	var before []byte
	if cursor != "" {
		k, err := hex.DecodeString(cursor)
		if err != nil || len(k) != 8 {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		before = k
	}
	var out []audit.Event
	next := ""
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		var k, v []byte
		if before == nil {
			k, v = c.Last()
		} else {
			c.Seek(before)
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			e, err := decodeAuditEvent(v)
			if err != nil {
				return fmt.Errorf("decode audit event %x: %w", k, err)
			}
			if (f.Actor != "" && e.Actor != f.Actor) || (f.Action != "" && e.Action != f.Action) {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", storeErr(err)
	}
	return out, next, nil
}
