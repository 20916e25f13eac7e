package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// importLua are the import scripts' own helpers, after the prelude: a
// batch checks and writes its rows with a handful of commands over many
// keys or members where each row took several commands, and count_exists
// and each_chunk split such a command into calls of at most CHUNK
// arguments, within what Lua's unpack may return.
const importLua = `
local CHUNK = 1000
local function each_chunk(list, fn)
  for i = 1, #list, CHUNK do fn(unpack(list, i, math.min(i + CHUNK - 1, #list))) end
end
local function count_exists(keys)
  local n = 0
  each_chunk(keys, function(...) n = n + redis.call('EXISTS', ...) end)
  return n
end
`

// importReadScript reads, for each row (pattern, expiry), the stored entry
// (id, rev, body, empty for none) and the official number the row, active
// at ARGV[3], would match (empty for none). One EXISTS over the rows'
// entries, and one over the official numbers of the exact rows, spare the
// per-row reads when none exists (a new import's rows).
var importReadScript = script(importLua + `
local now = tonumber(ARGV[3])
local entries, officials = {}, {}
for i = 4, #ARGV, 2 do
  local p = ARGV[i]
  entries[#entries + 1] = k('e:' .. p)
  if string.sub(p, -1) ~= '*' then officials[#officials + 1] = k('official:' .. p) end
end
local anyEntry = count_exists(entries) > 0
local anyOfficial = count_exists(officials) > 0
local out = {'ok'}
for i = 4, #ARGV, 2 do
  local p = ARGV[i]
  local e = {}
  if anyEntry then e = redis.call('HMGET', k('e:' .. p), 'id', 'rev', 'b') end
  out[#out + 1] = e[1] or ''
  out[#out + 1] = e[2] or ''
  out[#out + 1] = e[3] or ''
  local o = nil
  if anyOfficial or string.sub(p, -1) == '*' then o = entry_conflict(p, ARGV[i + 1], now) end
  out[#out + 1] = o or ''
end
return out
`)

// importWriteScript commits a batch the method planned from what
// importReadScript said, if that is still so: each pattern's revision (empty for
// none), each checked row's conflict ('1' or '0'), and that the new IDs
// are free; otherwise it answers 'retry' having written nothing. Then it
// writes the rows in order, as the prelude's put would one by one (the
// same keys, counts, revisions and change log records), and appends the
// batch's event. It answers {'ok', the first row's revision}; the rows
// after it have the revisions after it, in order.
//
// ARGV: 3 now, 4 event, 5 n patterns, then (pattern, rev) pairs, then n
// checks and (pattern, expiry, conflict) triples, then n new IDs and the
// IDs, then the writes as (pattern, id, body, category, source, expiry).
var importWriteScript = script(importLua + `
local now = tonumber(ARGV[3])
local i = 6
-- cs[p] is the 'category:source' pattern p holds now, false for none:
-- what a write takes off the counts.
local cs = {}
local absent = {}
for _ = 1, tonumber(ARGV[5]) do
  local p, rev = ARGV[i], ARGV[i + 1]
  if rev == '' then
    absent[#absent + 1] = k('e:' .. p)
    cs[p] = false
  else
    local e = redis.call('HMGET', k('e:' .. p), 'rev', 'c', 's')
    if e[1] ~= rev then return {'retry'} end
    cs[p] = e[2] .. ':' .. e[3]
  end
  i = i + 2
end
if count_exists(absent) > 0 then return {'retry'} end
local nc = tonumber(ARGV[i])
i = i + 1
local free, taken = {}, {}
for _ = 1, nc do
  local p, x, c = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if string.sub(p, -1) == '*' or not active(x, now) then
    local o = '0'
    if entry_conflict(p, x, now) then o = '1' end
    if o ~= c then return {'retry'} end
  elseif c == '1' then
    taken[#taken + 1] = k('official:' .. p)
  else
    free[#free + 1] = k('official:' .. p)
  end
  i = i + 3
end
if count_exists(free) > 0 or count_exists(taken) ~= #taken then return {'retry'} end
local nn = tonumber(ARGV[i])
local ids = {}
for j = 1, nn do ids[j] = k('id:' .. ARGV[i + j]) end
if count_exists(ids) > 0 then return {'retry'} end
i = i + 1 + nn
local nw = (#ARGV - i + 1) / 6
if nw > 0 then
  seq_now()
  local seq = redis.call('INCRBY', k('seq'), nw) - nw
  local first = seq + 1
  local delta, members, idp = {}, {}, {}
  while i + 5 <= #ARGV do
    local p, id, b, c, s, x = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    seq = seq + 1
    if cs[p] then delta[cs[p]] = (delta[cs[p]] or 0) - 1 end
    cs[p] = c .. ':' .. s
    delta[cs[p]] = (delta[cs[p]] or 0) + 1
    redis.call('HSET', k('e:' .. p), 'id', id, 'rev', seq, 'c', c, 's', s, 'x', x, 'b', b)
    idp[#idp + 1] = k('id:' .. id)
    idp[#idp + 1] = p
    members[#members + 1] = 0
    members[#members + 1] = p
    redis.call('XADD', k('changes'), string.format('%d-0', seq), 'o', 'p', 'id', id, 'rev', seq, 'b', b)
    i = i + 6
  end
  each_chunk(idp, function(...) redis.call('MSET', ...) end)
  each_chunk(members, function(...) redis.call('ZADD', k('entries'), ...) end)
  for key, d in pairs(delta) do
    if d ~= 0 then redis.call('HINCRBY', k('counts'), key, d) end
  end
  redis.call('XTRIM', k('changes'), 'MAXLEN', RETAIN)
  audit(ARGV[4])
  return {'ok', first}
end
audit(ARGV[4])
return {'ok', 0}
`)

// ImportEntries implements blocklist.Store in two scripts: one reads what
// the batch's rows meet, the method plans the outcomes and the batch's
// event from it (the event needs them), and one checks that nothing it
// planned on has changed and commits the batch, or answers 'retry' and the
// method plans again.
//
// While imports meet only new patterns (the last batch read found no entry
// and no official number for any row), a batch is first planned as if its
// read had said so, without reading: the write script checks exactly
// that, as it checks any plan, and answers 'retry' having written nothing
// when a row meets something after all; the batch is then read and
// planned as above.
func (s *BlocklistStore) ImportEntries(ctx context.Context, batch []blocklist.Entry, now time.Time, ev audit.Event) ([]blocklist.ImportOutcome, []blocklist.Change, error) {
	if s.importsNew.Load() {
		outs, chs, retry, err := s.importPlanned(ctx, batch, now, ev, nothingFound(batch))
		if err != nil || !retry {
			return outs, chs, err
		}
	}
	for range maxRetries {
		keys, args := importReadArgs(s, batch, now)
		reply, err := s.run(ctx, importReadScript, keys, args...)
		if err != nil {
			return nil, nil, err
		}
		s.importsNew.Store(foundNothing(reply))
		outs, chs, retry, err := s.importPlanned(ctx, batch, now, ev, reply)
		if err != nil || !retry {
			return outs, chs, err
		}
	}
	return nil, nil, errBusy
}

// nothingFound is what importReadScript answers for batch when no row
// meets an entry or an official number.
func nothingFound(batch []blocklist.Entry) []any {
	reply := make([]any, 1+4*len(batch))
	reply[0] = "ok"
	return reply // nil reads as "" (str)
}

// foundNothing reports whether importReadScript's reply found no entry
// and no official number for any row.
func foundNothing(reply []any) bool {
	for i := 1; i+3 < len(reply); i += 4 {
		if str(reply[i]) != "" || str(reply[i+3]) != "" {
			return false
		}
	}
	return true
}

var _ blocklist.BatchImporter = (*BlocklistStore)(nil)

// ImportEntryBatches implements blocklist.BatchImporter: the read scripts
// of every batch go in one round trip (a pipeline), then each batch
// commits by its own write script, in order, each with its event in its
// own atomic step. A batch whose read another batch of the group (or
// another writer) has since made stale is answered 'retry' by its write
// script, which wrote nothing, and is read and planned again on its own.
// While imports meet only new patterns (see ImportEntries) the reads are
// left out, and each batch is planned as if its read had found nothing.
func (s *BlocklistStore) ImportEntryBatches(ctx context.Context, batches []blocklist.ImportBatchInput, now time.Time) ([]blocklist.ImportBatchResult, error) {
	reads := make([]*redis.Cmd, len(batches))
	var err error
	if !s.importsNew.Load() {
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, b := range batches {
				keys, args := importReadArgs(s, b.Entries, now)
				argv := make([]any, 0, len(s.argvBase)+len(args))
				argv = append(append(argv, s.argvBase...), args...)
				// EVALSHA: the script is loaded by any earlier import; one
				// that is not (a restarted Redis) falls back below.
				reads[i] = importReadScript.EvalSha(ctx, p, keys.keys, argv...)
			}
			return nil
		})
	}
	res := make([]blocklist.ImportBatchResult, 0, len(batches))
	for i, b := range batches {
		var outs []blocklist.ImportOutcome
		var chs []blocklist.Change
		retry := true
		if err == nil {
			var reply []any
			if reads[i] == nil {
				reply = nothingFound(b.Entries)
			} else if r, rerr := reads[i].Slice(); rerr == nil && len(r) > 0 {
				reply = r
				s.importsNew.Store(foundNothing(r))
			}
			if reply != nil {
				var perr error
				outs, chs, retry, perr = s.importPlanned(ctx, b.Entries, now, b.Event, reply)
				if perr != nil {
					return res, perr
				}
			}
		}
		if retry {
			if reads[i] == nil {
				// Planned without a read, and a row met something.
				s.importsNew.Store(false)
			}
			var ierr error
			if outs, chs, ierr = s.ImportEntries(ctx, b.Entries, now, b.Event); ierr != nil {
				return res, ierr
			}
		}
		res = append(res, blocklist.ImportBatchResult{Outcomes: outs, Changes: chs})
	}
	return res, nil
}

// importReadArgs are the keys and arguments of importReadScript for batch.
func importReadArgs(s *BlocklistStore, batch []blocklist.Entry, now time.Time) (*dirKeys, []any) {
	read, readKeys := make([]any, 0, 1+2*len(batch)), s.keysFor(2*len(batch))
	read = append(read, now.UnixMilli())
	for _, row := range batch {
		read = append(read, row.Pattern, millis(row.ExpireTime))
		readKeys.addOf("e:", row.Pattern).entryConflict(row.Pattern)
	}
	return readKeys, read
}

// importPlanned plans batch from what importReadScript said (reply) and
// commits it by importWriteScript, unless what it read has changed since
// (retry).
func (s *BlocklistStore) importPlanned(ctx context.Context, batch []blocklist.Entry, now time.Time, ev audit.Event, reply []any) (outs []blocklist.ImportOutcome, chs []blocklist.Change, retry bool, err error) {
	if len(reply) != 1+4*len(batch) {
		return nil, nil, false, fault.Unavailable(fmt.Errorf("import: read script said %d values for %d rows", len(reply), len(batch)))
	}

	type state struct {
		e      blocklist.Entry
		exists bool
	}
	n := len(batch)
	cur := make(map[string]*state, n)
	revs, checks, newIDs, writes := make([]any, 0, 2*n), make([]any, 0, 3*n), make([]any, 0, n), make([]any, 0, 6*n)
	keys := s.keysFor(3*len(batch)+5, "counts", "seq", "entries", "changes", "audit")
	written := make([]int, 0, n) // the rows in writes, in order
	outs = make([]blocklist.ImportOutcome, len(batch))
	for i, row := range batch {
		r := reply[1+4*i:]
		st, seen := cur[row.Pattern]
		if !seen {
			st = &state{}
			if id := str(r[0]); id != "" {
				e, err := decodeEntry(id, str(r[1]), str(r[2]))
				if err != nil {
					return nil, nil, false, fault.Unavailable(err)
				}
				st.e, st.exists = e, true
			}
			cur[row.Pattern] = st
			revs = append(revs, row.Pattern, str(r[1]))
			keys.addOf("e:", row.Pattern)
		}
		if st.exists && st.e.SameContent(row) {
			outs[i] = blocklist.ImportOutcome{Result: blocklist.ImportUnchanged, Entry: st.e}
			continue
		}
		if st.exists {
			row.ID, row.CreateBy, row.CreateTime = st.e.ID, st.e.CreateBy, st.e.CreateTime
		} else {
			row.ID = newEntryID()
			newIDs = append(newIDs, row.ID)
		}
		official := str(r[3])
		checks = append(checks, row.Pattern, millis(row.ExpireTime), map[bool]string{true: "1", false: "0"}[official != ""])
		keys.entryConflict(row.Pattern)
		if official != "" {
			id := ""
			if st.exists {
				id = st.e.ID
			}
			outs[i] = blocklist.ImportOutcome{Result: blocklist.ImportRefused,
				Err: &blocklist.ConflictError{EntryID: id, Pattern: row.Pattern, Number: phone.Number(official)}}
			if !st.exists {
				newIDs = newIDs[:len(newIDs)-1]
			}
			continue
		}
		result := blocklist.ImportCreated
		if st.exists {
			result = blocklist.ImportUpdated
		}
		outs[i] = blocklist.ImportOutcome{Result: result, Entry: row}
		writes = append(writes, s.entryArgs(row)...)
		keys.put(row.Pattern, row.ID)
		written = append(written, i)
		st.e, st.exists = row, true
	}
	evs, err := encodeEvent(blocklist.ImportBatchEvent(ev, batch, outs))
	if err != nil {
		return nil, nil, false, err
	}
	args := []any{now.UnixMilli(), evs, len(revs) / 2}
	args = append(append(args, revs...), len(checks)/3)
	args = append(append(args, checks...), len(newIDs))
	args = append(append(args, newIDs...), writes...)
	for _, id := range newIDs {
		keys.addOf("id:", id.(string))
	}
	reply, err = s.run(ctx, importWriteScript, keys, args...)
	if err != nil {
		return nil, nil, false, err
	}
	switch str(reply[0]) {
	case "ok":
	case "retry":
		return nil, nil, true, nil
	default:
		return nil, nil, false, fault.Unavailable(fmt.Errorf("import: script said %v", reply))
	}
	if len(written) > 0 && (len(reply) != 2 || num(reply[1]) <= 0) {
		return nil, nil, false, fault.Unavailable(fmt.Errorf("import: script said %v for %d rows written", reply, len(written)))
	}
	chs = make([]blocklist.Change, 0, len(written))
	for j, i := range written {
		e := outs[i].Entry
		e.Rev = uint64(num(reply[1])) + uint64(j)
		outs[i].Entry = e
		chs = append(chs, blocklist.Change{Seq: e.Rev, Op: blocklist.ChangePut, Entry: e})
	}
	// A row that another row of the batch left unchanged shows the entry
	// as that row wrote it, revision included.
	for i, o := range outs {
		if o.Result == blocklist.ImportUnchanged && o.Entry.Rev == 0 {
			for j := i - 1; j >= 0; j-- {
				if outs[j].Entry.Pattern == o.Entry.Pattern && outs[j].Result != blocklist.ImportRefused {
					outs[i].Entry = outs[j].Entry
					break
				}
			}
		}
	}
	return outs, chs, false, nil
}
