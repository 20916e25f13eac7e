package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

// AuditStore is audit.Store over the partitions' audit streams: the
// directory's {P:dir}:audit and each shard's {P:s:K}:audit. The scripts of
// the other stores XADD their events to the stream of the partition they
// change, in the same script; this store lists them merged, newest first.
//
// An event is one stream entry with one field, e, the JSON of the event
// without its ID. The ID is "<stream entry id>.<partition>" (partition
// "dir" or "s<K>"), e.g. "1767225600000-0.s12": unique, and ordered by the
// time Redis appended it (then by sequence, then by partition).
type AuditStore struct {
	rdb  redis.UniversalClient
	keys keyspace
}

var _ audit.Store = (*AuditStore)(nil)

// NewAuditStore returns the audit store of the partitions of l.
func NewAuditStore(rdb redis.UniversalClient, l Layout) (*AuditStore, error) {
	k, err := newKeyspace(l)
	if err != nil {
		return nil, err
	}
	return &AuditStore{rdb: rdb, keys: k}, nil
}

// auditRecord is the stored form of an event, decoupled from audit.Event.
type auditRecord struct {
	Time   time.Time      `json:"time"`
	Actor  string         `json:"actor"`
	Role   string         `json:"role"`
	Action string         `json:"action"`
	Target string         `json:"target,omitempty"`
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
}

// encodeEvent is the value of the e field of e's stream entry.
func encodeEvent(e audit.Event) (string, error) {
	b, err := json.Marshal(auditRecord{Time: e.Time.UTC(), Actor: e.Actor, Role: e.Role, Action: e.Action,
		Target: e.Target, Before: e.Before, After: e.After})
	if err != nil {
		return "", fmt.Errorf("encode audit event: %w", err)
	}
	return string(b), nil
}

// AppendAuditEvent implements audit.Store for the events that record no
// change (a change's event is appended by the change's script): it XADDs
// to the directory's stream.
func (s *AuditStore) AppendAuditEvent(ctx context.Context, e audit.Event) (audit.Event, error) {
	if err := ctx.Err(); err != nil {
		return audit.Event{}, err
	}
	v, err := encodeEvent(e)
	if err != nil {
		return audit.Event{}, err
	}
	id, err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.audit(partitionDir), Values: []string{"e", v}}).Result()
	if err != nil {
		return audit.Event{}, redisErr(ctx, "append audit event", err)
	}
	e.ID = eventID{stream: mustStreamID(id), partition: partitionDir}.String()
	return e, nil
}

// streamID is a stream entry id, ms-seq.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, false
	}
	return streamID{a, b}, true
}

// mustStreamID parses an id Redis gave.
func mustStreamID(s string) streamID {
	id, _ := parseStreamID(s)
	return id
}

func (id streamID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

// eventID is an event's place in the merged order.
type eventID struct {
	stream    streamID
	partition int
}

func (e eventID) String() string {
	p := "dir"
	if e.partition != partitionDir {
		p = "s" + strconv.Itoa(e.partition)
	}
	return e.stream.String() + "." + p
}

// before reports whether e comes before o in time order.
func (e eventID) before(o eventID) bool {
	if e.stream.ms != o.stream.ms {
		return e.stream.ms < o.stream.ms
	}
	if e.stream.seq != o.stream.seq {
		return e.stream.seq < o.stream.seq
	}
	return e.partition < o.partition
}

func (k keyspace) parseEventID(s string) (eventID, bool) {
	sid, p, ok := strings.Cut(s, ".")
	if !ok {
		return eventID{}, false
	}
	id, ok := parseStreamID(sid)
	if !ok {
		return eventID{}, false
	}
	if p == "dir" {
		return eventID{id, partitionDir}, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(p, "s"))
	if !strings.HasPrefix(p, "s") || err != nil || n < 0 || n >= k.shards || strconv.Itoa(n) != p[1:] {
		return eventID{}, false
	}
	return eventID{id, n}, true
}

// auditBatch is the most entries one XREVRANGE of a partition reads.
const auditBatch = 64

// partitionReader walks one partition's stream backwards from a bound.
type partitionReader struct {
	partition int
	end       string // XREVRANGE end: "+", "(ms-seq" or "ms-seq"
	buf       []redis.XMessage
	done      bool // nothing older is left to read
}

// ListAuditEvents implements audit.Store: a k-way merge of the partitions'
// streams, newest first. The cursor is the ID of the last event returned;
// each partition resumes strictly after it in the merged order.
func (s *AuditStore) ListAuditEvents(ctx context.Context, f audit.Filter, limit int, cursor string) ([]audit.Event, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", nil
	}
	readers := make([]*partitionReader, 0, s.keys.shards+1)
	for p := partitionDir; p < s.keys.shards; p++ {
		readers = append(readers, &partitionReader{partition: p, end: "+"})
	}
	if cursor != "" {
		c, ok := s.keys.parseEventID(cursor)
		if !ok {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		for _, r := range readers {
			// Entries of the same ms-seq in a lower partition come before
			// the cursor's, so they are still to be listed.
			if r.partition < c.partition {
				r.end = c.stream.String()
			} else {
				r.end = "(" + c.stream.String()
			}
		}
	}
	// Without a filter, a page needs at most limit+1 entries of any one
	// partition; with one, it may pass over many.
	batch := int64(auditBatch)
	if f == (audit.Filter{}) {
		batch = int64(min(limit+1, auditBatch))
	}
	var out []audit.Event
	var lastID string
	for {
		if err := s.fill(ctx, readers, batch); err != nil {
			return nil, "", err
		}
		// The newest head among the partitions.
		var best *partitionReader
		var bestID eventID
		for _, r := range readers {
			if len(r.buf) == 0 {
				continue
			}
			id := eventID{mustStreamID(r.buf[0].ID), r.partition}
			if best == nil || bestID.before(id) {
				best, bestID = r, id
			}
		}
		if best == nil {
			return out, "", nil
		}
		msg := best.buf[0]
		best.buf = best.buf[1:]
		e, err := decodeEvent(msg, bestID)
		if err != nil {
			return nil, "", err
		}
		if (f.Actor != "" && e.Actor != f.Actor) || (f.Action != "" && e.Action != f.Action) {
			continue
		}
		if len(out) == limit {
			return out, lastID, nil
		}
		out = append(out, e)
		lastID = e.ID
	}
}

// fill reads the next batch of every partition whose buffer is empty, in
// one pipeline.
func (s *AuditStore) fill(ctx context.Context, readers []*partitionReader, batch int64) error {
	var need []*partitionReader
	for _, r := range readers {
		if len(r.buf) == 0 && !r.done {
			need = append(need, r)
		}
	}
	if len(need) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(need))
	for i, r := range need {
		cmds[i] = pipe.XRevRangeN(ctx, s.keys.audit(r.partition), r.end, "-", batch)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return redisErr(ctx, "list audit events", err)
	}
	for i, r := range need {
		msgs := cmds[i].Val()
		r.buf = msgs
		if int64(len(msgs)) < batch {
			r.done = true
		}
		if len(msgs) > 0 {
			r.end = "(" + msgs[len(msgs)-1].ID
		}
	}
	return nil
}

func decodeEvent(m redis.XMessage, id eventID) (audit.Event, error) {
	v, _ := m.Values["e"].(string)
	var r auditRecord
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return audit.Event{}, fmt.Errorf("decode audit event %s: %w", id, err)
	}
	return audit.Event{ID: id.String(), Time: r.Time, Actor: r.Actor, Role: r.Role, Action: r.Action,
		Target: r.Target, Before: r.Before, After: r.After}, nil
}
