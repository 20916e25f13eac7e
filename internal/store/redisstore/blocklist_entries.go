package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/store/redisstore/internal/recordpb"
)

// jsonEntry is an entry's body (field b of e:<pattern> and of its change
// log records) as stored before recordpb.Entry: read still, and written
// under BlocklistOptions.JSONEntryRecords.
type jsonEntry struct {
	Pattern    string `json:"p"`
	Kind       uint8  `json:"k"`
	Category   uint8  `json:"c"`
	Reason     string `json:"r,omitempty"`
	Source     uint8  `json:"s"`
	Confidence int    `json:"f"`
	CreateBy   string `json:"by,omitempty"`
	Create     int64  `json:"ct"`
	Update     int64  `json:"ut"`
	Expire     int64  `json:"xt,omitempty"`
}

// encodeEntry is e's body: a recordpb.Entry (or the JSON of before, under
// BlocklistOptions.JSONEntryRecords), without its ID and revision, which
// the hash and the change log record hold on their own so that a script
// can set them.
func (s *BlocklistStore) encodeEntry(e blocklist.Entry) string {
	if s.jsonEntries {
		b, _ := json.Marshal(jsonEntry{
			Pattern: e.Pattern, Kind: uint8(e.Kind), Category: uint8(e.Category), Reason: e.Reason,
			Source: uint8(e.Source), Confidence: e.Confidence, CreateBy: e.CreateBy,
			Create: millis(e.CreateTime), Update: millis(e.UpdateTime), Expire: millis(e.ExpireTime),
		})
		return string(b)
	}
	b, _ := proto.Marshal(&recordpb.Entry{
		Pattern: e.Pattern, Kind: int32(e.Kind), Category: int32(e.Category), Source: int32(e.Source),
		Confidence: int32(e.Confidence), Reason: e.Reason, CreateBy: e.CreateBy,
		CreateMs: millis(e.CreateTime), UpdateMs: millis(e.UpdateTime), ExpireMs: millis(e.ExpireTime),
	})
	return string(b)
}

// decodeEntry reads entry id at revision rev from its body in either
// format: the JSON of before begins with '{', which never begins a
// recordpb.Entry (it would be field 15 with the group wire type).
func decodeEntry(id, rev, body string) (blocklist.Entry, error) {
	r, err := strconv.ParseUint(rev, 10, 64)
	if err != nil {
		return blocklist.Entry{}, fmt.Errorf("blocklist entry %s: bad revision %q", id, rev)
	}
	if strings.HasPrefix(body, "{") {
		var b jsonEntry
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return blocklist.Entry{}, fmt.Errorf("decode blocklist entry %s: %w", id, err)
		}
		return blocklist.Entry{
			ID: id, Pattern: b.Pattern, Kind: blocklist.Kind(b.Kind), Category: blocklist.Category(b.Category),
			Reason: b.Reason, Source: blocklist.Source(b.Source), Confidence: b.Confidence, CreateBy: b.CreateBy,
			CreateTime: fromMillis(b.Create), UpdateTime: fromMillis(b.Update), ExpireTime: fromMillis(b.Expire), Rev: r,
		}, nil
	}
	var m recordpb.Entry
	// An entry always has a pattern, so its record is never empty.
	if err := proto.Unmarshal([]byte(body), &m); err != nil || m.Pattern == "" {
		return blocklist.Entry{}, fmt.Errorf("decode blocklist entry %s: %w", id, errors.Join(err, errBadEntryRecord))
	}
	return blocklist.Entry{
		ID: id, Pattern: m.Pattern, Kind: blocklist.Kind(m.Kind), Category: blocklist.Category(m.Category),
		Reason: m.Reason, Source: blocklist.Source(m.Source), Confidence: int(m.Confidence), CreateBy: m.CreateBy,
		CreateTime: fromMillis(m.CreateMs), UpdateTime: fromMillis(m.UpdateMs), ExpireTime: fromMillis(m.ExpireMs), Rev: r,
	}, nil
}

var errBadEntryRecord = errors.New("corrupt blocklist entry record")

// entryArgs are the script arguments that write e: pattern, id, body,
// category, source, expiry.
func (s *BlocklistStore) entryArgs(e blocklist.Entry) []any {
	return []any{e.Pattern, e.ID, s.encodeEntry(e), int(e.Category), int(e.Source), millis(e.ExpireTime)}
}

// newEntryID is a random 64-bit ID; a script refuses one in use (and the
// method draws again), so IDs are never reused.
func newEntryID() string { return randomHex(8) }

var createEntryScript = script(`
local p, id, x, now = ARGV[3], ARGV[4], ARGV[8], tonumber(ARGV[9])
if redis.call('EXISTS', k('e:' .. p)) == 1 then return {'exists'} end
if redis.call('EXISTS', k('id:' .. id)) == 1 then return {'retry'} end
local o = entry_conflict(p, x, now)
if o then return {'conflict', '', p, o} end
local seq = put(p, id, ARGV[5], ARGV[6], ARGV[7], x)
audit(ARGV[10])
return {'ok', seq}
`)

// CreateEntry implements blocklist.Store.
func (s *BlocklistStore) CreateEntry(ctx context.Context, e blocklist.Entry, now time.Time, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	for range maxRetries {
		e.ID = newEntryID()
		evs, err := encodeEvent(blocklist.EntryEvent(ev, nil, &e))
		if err != nil {
			return blocklist.Entry{}, blocklist.Change{}, err
		}
		keys := s.keys().put(e.Pattern, e.ID).entryConflict(e.Pattern).add("audit")
		reply, err := s.run(ctx, createEntryScript, keys, append(s.entryArgs(e), now.UnixMilli(), evs)...)
		if err != nil {
			return blocklist.Entry{}, blocklist.Change{}, err
		}
		switch str(reply[0]) {
		case "ok":
			e.Rev = uint64(num(reply[1]))
			return e, blocklist.Change{Seq: e.Rev, Op: blocklist.ChangePut, Entry: e}, nil
		case "exists":
			return blocklist.Entry{}, blocklist.Change{}, fault.ErrAlreadyExists
		case "conflict":
			return blocklist.Entry{}, blocklist.Change{}, conflictErr(reply)
		case "retry":
			continue
		default:
			return blocklist.Entry{}, blocklist.Change{}, fault.Unavailable(fmt.Errorf("create entry: script said %v", reply))
		}
	}
	return blocklist.Entry{}, blocklist.Change{}, errBusy
}

// getEntriesScript returns, for each pattern, its entry's id, rev and body
// (empty for none).
var getEntriesScript = script(`
local out = {'ok'}
for i = 3, #ARGV do
  local e = redis.call('HMGET', k('e:' .. ARGV[i]), 'id', 'rev', 'b')
  out[#out + 1] = e[1] or ''
  out[#out + 1] = e[2] or ''
  out[#out + 1] = e[3] or ''
end
return out
`)

// patternsScript returns the pattern of each entry id (” for none).
var patternsScript = script(`
local out = {'ok'}
for i = 3, #ARGV do out[#out + 1] = redis.call('GET', k('id:' .. ARGV[i])) or '' end
return out
`)

// getEntries reads entries by pattern (byID false) or by ID; a missing one
// is reported as not found (ok false). By ID it reads the patterns first,
// then the entries (a script declares every key it reads, and the entry's
// key follows from the pattern), and reads again when an entry is no
// longer at the pattern read.
func (s *BlocklistStore) getEntries(ctx context.Context, byID bool, keys ...string) ([]blocklist.Entry, []bool, error) {
	if !byID {
		return s.entriesAt(ctx, keys)
	}
	for range maxRetries {
		names := s.keys()
		args := make([]any, len(keys))
		for i, id := range keys {
			names.add("id:" + id)
			args[i] = id
		}
		reply, err := s.run(ctx, patternsScript, names, args...)
		if err != nil {
			return nil, nil, err
		}
		if len(reply) != 1+len(keys) {
			return nil, nil, fault.Unavailable(fmt.Errorf("get entries: script said %d patterns for %d ids", len(reply)-1, len(keys)))
		}
		var patterns []string
		for _, p := range reply[1:] {
			if p := str(p); p != "" {
				patterns = append(patterns, p)
			}
		}
		es, found, err := s.entriesAt(ctx, patterns)
		if err != nil {
			return nil, nil, err
		}
		out, ok := make([]blocklist.Entry, len(keys)), make([]bool, len(keys))
		moved, j := false, 0
		for i, id := range keys {
			if str(reply[1+i]) == "" {
				continue
			}
			if !found[j] || es[j].ID != id {
				moved = true
				break
			}
			out[i], ok[i] = es[j], true
			j++
		}
		if !moved {
			return out, ok, nil
		}
	}
	return nil, nil, errBusy
}

// entriesAt reads the entries of patterns.
func (s *BlocklistStore) entriesAt(ctx context.Context, patterns []string) ([]blocklist.Entry, []bool, error) {
	out, found := make([]blocklist.Entry, len(patterns)), make([]bool, len(patterns))
	if len(patterns) == 0 {
		return out, found, nil
	}
	names := s.keys()
	args := make([]any, len(patterns))
	for i, p := range patterns {
		names.add("e:" + p)
		args[i] = p
	}
	reply, err := s.run(ctx, getEntriesScript, names, args...)
	if err != nil {
		return nil, nil, err
	}
	if len(reply) != 1+3*len(patterns) {
		return nil, nil, fault.Unavailable(fmt.Errorf("get entries: script said %d values for %d patterns", len(reply), len(patterns)))
	}
	for i := range patterns {
		r := reply[1+3*i:]
		if str(r[0]) == "" {
			continue
		}
		e, err := decodeEntry(str(r[0]), str(r[1]), str(r[2]))
		if err != nil {
			return nil, nil, fault.Unavailable(err)
		}
		out[i], found[i] = e, true
	}
	return out, found, nil
}

func (s *BlocklistStore) getEntry(ctx context.Context, byID bool, key string) (blocklist.Entry, error) {
	es, found, err := s.getEntries(ctx, byID, key)
	if err != nil {
		return blocklist.Entry{}, err
	}
	if !found[0] {
		return blocklist.Entry{}, fault.ErrNotFound
	}
	return es[0], nil
}

// GetEntry implements blocklist.Store.
func (s *BlocklistStore) GetEntry(ctx context.Context, id string) (blocklist.Entry, error) {
	return s.getEntry(ctx, true, id)
}

// GetEntryByPattern implements blocklist.Store.
func (s *BlocklistStore) GetEntryByPattern(ctx context.Context, pattern string) (blocklist.Entry, error) {
	return s.getEntry(ctx, false, pattern)
}

var updateEntryScript = script(`
local id, oldp, rev = ARGV[3], ARGV[4], ARGV[5]
local p, x, now = ARGV[6], ARGV[11], tonumber(ARGV[12])
local cur = redis.call('GET', k('id:' .. id))
if not cur then return {'notfound'} end
if cur ~= oldp then return {'stale'} end
if redis.call('HGET', k('e:' .. cur), 'rev') ~= rev then return {'stale'} end
if p ~= cur and redis.call('EXISTS', k('e:' .. p)) == 1 then return {'exists'} end
local o = entry_conflict(p, x, now)
if o then return {'conflict', id, p, o} end
local out = {'ok'}
if p ~= cur then out[#out + 1] = del(cur, false) end
out[#out + 1] = put(p, id, ARGV[8], ARGV[9], ARGV[10], x)
audit(ARGV[13])
return out
`)

// UpdateEntry implements blocklist.Store. The script writes only over the
// revision the method read and checked against rev, so a write in between
// is the caller's fault.ErrConflict, as it must be.
func (s *BlocklistStore) UpdateEntry(ctx context.Context, e blocklist.Entry, rev uint64, now time.Time, ev audit.Event) (blocklist.Entry, []blocklist.Change, error) {
	cur, err := s.GetEntry(ctx, e.ID)
	if err != nil {
		return blocklist.Entry{}, nil, err
	}
	if cur.Rev != rev {
		return blocklist.Entry{}, nil, fmt.Errorf("entry %s changed since revision %d: %w", e.ID, rev, fault.ErrConflict)
	}
	e.CreateBy, e.CreateTime = cur.CreateBy, cur.CreateTime
	evs, err := encodeEvent(blocklist.EntryEvent(ev, &cur, &e))
	if err != nil {
		return blocklist.Entry{}, nil, err
	}
	args := append([]any{e.ID, cur.Pattern, strconv.FormatUint(rev, 10)}, s.entryArgs(e)...)
	keys := s.keys().put(cur.Pattern, e.ID).put(e.Pattern, e.ID).entryConflict(e.Pattern).add("audit")
	reply, err := s.run(ctx, updateEntryScript, keys, append(args, now.UnixMilli(), evs)...)
	if err != nil {
		return blocklist.Entry{}, nil, err
	}
	switch str(reply[0]) {
	case "ok":
	case "notfound":
		return blocklist.Entry{}, nil, fault.ErrNotFound
	case "stale":
		return blocklist.Entry{}, nil, fmt.Errorf("entry %s changed since revision %d: %w", e.ID, rev, fault.ErrConflict)
	case "exists":
		return blocklist.Entry{}, nil, fault.ErrAlreadyExists
	case "conflict":
		return blocklist.Entry{}, nil, conflictErr(reply)
	default:
		return blocklist.Entry{}, nil, fault.Unavailable(fmt.Errorf("update entry: script said %v", reply))
	}
	var chs []blocklist.Change
	if len(reply) == 3 {
		chs = append(chs, blocklist.Change{Seq: uint64(num(reply[1])), Op: blocklist.ChangeDelete, Entry: cur})
	}
	e.Rev = uint64(num(reply[len(reply)-1]))
	return e, append(chs, blocklist.Change{Seq: e.Rev, Op: blocklist.ChangePut, Entry: e}), nil
}

var deleteEntryScript = script(`
local p = redis.call('GET', k('id:' .. ARGV[3]))
if not p then return {'notfound'} end
if p ~= ARGV[6] then return {'retry'} end
local e = redis.call('HMGET', k('e:' .. p), 'id', 'rev')
if e[1] ~= ARGV[3] or e[2] ~= ARGV[4] then return {'retry'} end
local seq = del(p, true)
audit(ARGV[5])
return {'ok', seq}
`)

// DeleteEntry implements blocklist.Store: the entry the method read is the
// event's Before, and the script deletes it only at that revision.
func (s *BlocklistStore) DeleteEntry(ctx context.Context, id string, ev audit.Event) (blocklist.Entry, blocklist.Change, error) {
	for range maxRetries {
		old, err := s.GetEntry(ctx, id)
		if err != nil {
			return blocklist.Entry{}, blocklist.Change{}, err
		}
		evs, err := encodeEvent(blocklist.EntryEvent(ev, &old, nil))
		if err != nil {
			return blocklist.Entry{}, blocklist.Change{}, err
		}
		keys := s.keys().put(old.Pattern, id).add("audit")
		reply, err := s.run(ctx, deleteEntryScript, keys, id, strconv.FormatUint(old.Rev, 10), evs, old.Pattern)
		if err != nil {
			return blocklist.Entry{}, blocklist.Change{}, err
		}
		switch str(reply[0]) {
		case "ok":
			return old, blocklist.Change{Seq: uint64(num(reply[1])), Op: blocklist.ChangeDelete, Entry: old}, nil
		case "notfound":
			return blocklist.Entry{}, blocklist.Change{}, fault.ErrNotFound
		case "retry":
			continue
		default:
			return blocklist.Entry{}, blocklist.Change{}, fault.Unavailable(fmt.Errorf("delete entry: script said %v", reply))
		}
	}
	return blocklist.Entry{}, blocklist.Change{}, errBusy
}
