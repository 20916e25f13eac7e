package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Official numbers are hashes {P:dir}:official:<E164> (direction, gen,
// display_name, description, create_by, create_time in RFC 3339), listed
// in number order by the zset {P:dir}:officials (score 0). gen is new at
// every create: a call records the gen of its caller when stamped and
// verifies only while the number still has it (docs/redis.md).

var createOfficialScript = script(`
local n = ARGV[3]
local ok = k('official:' .. n)
if redis.call('EXISTS', ok) == 1 then return {'exists'} end
local c = official_conflict(n, tonumber(ARGV[10]))
if c then return {'conflict', c[1], c[2], n} end
redis.call('HSET', ok, 'direction', ARGV[5], 'gen', ARGV[4], 'display_name', ARGV[6],
  'description', ARGV[7], 'create_by', ARGV[8], 'create_time', ARGV[9])
redis.call('ZADD', k('officials'), 0, n)
local seq = log_official('op', n, ARGV[12])
audit(ARGV[11])
return {'ok', seq}
`)

// officialChange is an official number's record in its change-log entry
// (field b), as JSON.
type officialChange struct {
	Number      string    `json:"number"`
	DisplayName string    `json:"display_name"`
	Direction   int       `json:"direction"`
	Description string    `json:"description,omitempty"`
	CreateBy    string    `json:"create_by,omitempty"`
	CreateTime  time.Time `json:"create_time"`
	Gen         string    `json:"gen,omitempty"`
}

func encodeOfficialChange(o blocklist.OfficialNumber) (string, error) {
	b, err := json.Marshal(officialChange{
		Number: o.Number.String(), DisplayName: o.DisplayName, Direction: int(o.Direction),
		Description: o.Description, CreateBy: o.CreateBy, CreateTime: o.CreateTime.UTC(), Gen: o.Gen,
	})
	return string(b), err
}

func decodeOfficialChange(b string) (blocklist.OfficialNumber, error) {
	var c officialChange
	if err := json.Unmarshal([]byte(b), &c); err != nil {
		return blocklist.OfficialNumber{}, err
	}
	return blocklist.OfficialNumber{
		Number: phone.Number(c.Number), DisplayName: c.DisplayName, Direction: blocklist.Direction(c.Direction),
		Description: c.Description, CreateBy: c.CreateBy, CreateTime: c.CreateTime, Gen: c.Gen,
	}, nil
}

// CreateOfficialNumber implements blocklist.Store.
func (s *BlocklistStore) CreateOfficialNumber(ctx context.Context, o blocklist.OfficialNumber, now time.Time, ev audit.Event) (blocklist.Change, error) {
	e, err := encodeEvent(ev)
	if err != nil {
		return blocklist.Change{}, err
	}
	o.Gen = randomHex(16)
	o.CreateTime = o.CreateTime.UTC()
	b, err := encodeOfficialChange(o)
	if err != nil {
		return blocklist.Change{}, err
	}
	keys := s.keys("official:"+o.Number.String(), "officials", "audit", "seq", "changes").officialConflict(o.Number.String())
	reply, err := s.run(ctx, createOfficialScript, keys, o.Number.String(), o.Gen, int(o.Direction), o.DisplayName,
		o.Description, o.CreateBy, o.CreateTime.Format(time.RFC3339Nano), now.UnixMilli(), e, b)
	if err != nil {
		return blocklist.Change{}, err
	}
	switch str(reply[0]) {
	case "ok":
		return blocklist.Change{Seq: uint64(num(reply[1])), Op: blocklist.ChangeOfficialPut, Official: &o}, nil
	case "exists":
		return blocklist.Change{}, fault.ErrAlreadyExists
	case "conflict":
		return blocklist.Change{}, conflictErr(reply)
	}
	return blocklist.Change{}, fault.Unavailable(fmt.Errorf("create official number: script said %v", reply))
}

// getOfficialScript reads the records of the official numbers ARGV[3:]
// (declared in KEYS): a page of ListOfficialNumbers.
var getOfficialScript = script(`
local out = {'ok'}
for i = 3, #ARGV do
  out[#out + 1] = ARGV[i]
  out[#out + 1] = redis.call('HGETALL', k('official:' .. ARGV[i]))
end
return out
`)

// officialFrom decodes an official number's hash; ok is false when there
// is none.
func officialFrom(n string, h map[string]string) (o blocklist.OfficialNumber, gen string, ok bool, err error) {
	if len(h) == 0 {
		return o, "", false, nil
	}
	o.Number = phone.Number(n)
	d, _ := strconv.Atoi(h["direction"])
	o.Direction = blocklist.Direction(d)
	gen, o.Gen = h["gen"], h["gen"]
	o.DisplayName, o.Description, o.CreateBy = h["display_name"], h["description"], h["create_by"]
	if ct, set := h["create_time"]; set {
		if o.CreateTime, err = time.Parse(time.RFC3339Nano, ct); err != nil {
			return o, "", false, fmt.Errorf("official number %s: %w", n, err)
		}
	}
	return o, gen, true, nil
}

// getOfficial reads number n's record: one key, so a plain HGETALL (a
// script would add nothing but its cost), at the moment of asking.
func (s *BlocklistStore) getOfficial(ctx context.Context, n phone.Number) (blocklist.OfficialNumber, string, error) {
	h, err := s.rdb.HGetAll(ctx, dirKey(s.tag, "official:"+n.String())).Result()
	if err != nil {
		return blocklist.OfficialNumber{}, "", redisErr(ctx, "read official number", err)
	}
	o, gen, ok, err := officialFrom(n.String(), h)
	if err != nil {
		return o, "", fault.Unavailable(err)
	}
	if !ok {
		return o, "", fault.ErrNotFound
	}
	return o, gen, nil
}

// GetOfficialNumber implements blocklist.Store.
func (s *BlocklistStore) GetOfficialNumber(ctx context.Context, n phone.Number) (blocklist.OfficialNumber, error) {
	o, _, err := s.getOfficial(ctx, n)
	return o, err
}

var listOfficialScript = script(`
local from = '-'
if ARGV[3] ~= '' then from = '(' .. ARGV[3] end
local out = {'ok'}
for _, n in ipairs(redis.call('ZRANGEBYLEX', k('officials'), from, '+', 'LIMIT', 0, tonumber(ARGV[4]))) do
  out[#out + 1] = n
end
return out
`)

// ListOfficialNumbers implements blocklist.Store: one script reads the
// page's numbers, one their records (a script declares every key it
// reads); a number deleted in between is left out, as a list made a
// moment later would.
func (s *BlocklistStore) ListOfficialNumbers(ctx context.Context, after string, limit int) ([]blocklist.OfficialNumber, error) {
	// The numbers are listed, then their records read: a number deleted in
	// between has no record, and its place is filled from further on, so
	// that a page shorter than limit always means the end of the list
	// (the index's load and the API's paging both rely on it).
	var out []blocklist.OfficialNumber
	for len(out) < limit {
		want := limit - len(out)
		reply, err := s.run(ctx, listOfficialScript, s.keys("officials"), after, want)
		if err != nil {
			return nil, err
		}
		listed := reply[1:]
		if len(listed) == 0 {
			break
		}
		keys, args := s.keys(), make([]any, 0, len(listed))
		for _, n := range listed {
			keys.add("official:" + str(n))
			args = append(args, str(n))
		}
		recs, err := s.run(ctx, getOfficialScript, keys, args...)
		if err != nil {
			return nil, err
		}
		for i := 1; i+1 < len(recs); i += 2 {
			o, _, ok, err := officialFrom(str(recs[i]), fields(recs[i+1]))
			if err != nil {
				return nil, fault.Unavailable(err)
			}
			if ok {
				out = append(out, o)
			}
		}
		if len(listed) < want {
			break // the end of the list
		}
		after = str(listed[len(listed)-1])
	}
	return out, nil
}

// deleteOfficialScript deletes the number if it still has the generation
// the method read (its snapshot is the event's Before), and counts its
// line's live calls ({P:dir}:line:<E164>, call id -> expiry in Unix ms,
// written by the calls store) as the calls it ended: the deletion is what
// stops them verifying.
var deleteOfficialScript = script(`
local n = ARGV[3]
local ok = k('official:' .. n)
local gen = redis.call('HGET', ok, 'gen')
if not gen then return {'notfound'} end
if gen ~= ARGV[4] then return {'retry'} end
redis.call('DEL', ok)
redis.call('ZREM', k('officials'), n)
local seq = log_official('od', n, ARGV[8])
local ended = redis.call('ZCOUNT', k('line:' .. n), '(' .. ARGV[5], '+inf')
audit(fill(ARGV[6], ARGV[7], tostring(ended)))
return {'ok', ended, seq}
`)

// DeleteOfficialNumber implements blocklist.Store. The number goes, and its
// event is appended, in one script, whose After["ended_calls"] counts the
// live calls of the line at that moment: they stop verifying in that step
// (their gen is gone). Then EndLine, when set, marks them ENDED in their
// shards; it may find fewer (a call may end by itself meanwhile). The
// count returned is the event's. Should EndLine fail, the deletion stands
// (and the calls no longer verify): the error says so, wrapping EndLine's.
func (s *BlocklistStore) DeleteOfficialNumber(ctx context.Context, n phone.Number, now time.Time, ev audit.Event) (blocklist.OfficialNumber, int, blocklist.Change, error) {
	ph := newPlaceholders()
	for range maxRetries {
		o, gen, err := s.getOfficial(ctx, n)
		if err != nil {
			return blocklist.OfficialNumber{}, 0, blocklist.Change{}, err
		}
		de := ev
		de.Before = o.Snapshot()
		de = withAfter(de, map[string]any{"ended_calls": ph.raw("ended_calls")})
		e, err := encodeEvent(de)
		if err != nil {
			return blocklist.OfficialNumber{}, 0, blocklist.Change{}, err
		}
		b, err := encodeOfficialChange(o)
		if err != nil {
			return blocklist.OfficialNumber{}, 0, blocklist.Change{}, err
		}
		keys := s.keys("official:"+n.String(), "officials", "line:"+n.String(), "audit", "seq", "changes")
		reply, err := s.run(ctx, deleteOfficialScript, keys, n.String(), gen, now.UnixMilli(), e, ph.text("ended_calls"), b)
		if err != nil {
			return blocklist.OfficialNumber{}, 0, blocklist.Change{}, err
		}
		switch str(reply[0]) {
		case "retry":
			continue
		case "notfound":
			return blocklist.OfficialNumber{}, 0, blocklist.Change{}, fault.ErrNotFound
		case "ok":
		default:
			return blocklist.OfficialNumber{}, 0, blocklist.Change{}, fault.Unavailable(fmt.Errorf("delete official number: script said %v", reply))
		}
		ended := int(num(reply[1]))
		deleted := o
		c := blocklist.Change{Seq: uint64(num(reply[2])), Op: blocklist.ChangeOfficialDelete, Official: &deleted}
		if s.endLine != nil {
			if _, err := s.endLine(ctx, n, now); err != nil {
				return o, ended, c, fmt.Errorf("official number %s deleted (its calls no longer verify), but marking its calls ended failed: %w", n, err)
			}
		}
		return o, ended, c, nil
	}
	return blocklist.OfficialNumber{}, 0, blocklist.Change{}, errBusy
}
