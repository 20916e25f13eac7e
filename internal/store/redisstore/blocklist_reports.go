package redisstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Reports, all in {P:dir} (docs/redis.md proposes the daily counter in the
// reporter's own slot {P:r:H}; it is kept here instead, so that the limit,
// the group and the event are one script with nothing to give back when
// the second step fails; the directory's slot holds the groups anyway):
//
//	reported:<E164>   hash  a group: n, cnt, dst, first, last (RFC 3339), st (status), notes (JSON, newest first), eid, v (version)
//	reported          zset  (score 0) rank key: status rank, ^count (10 digits), number, for ListReportedNumbers
//	reported_last     zset  number -> last report (Unix ms), of the groups PruneReports may delete (not BLOCKED)
//	rep:<E164>        hash  reporter pseudonym -> last report of the number (Unix ms)
//	reports           hash  report id -> the report (JSON: caller, reporter pseudonym, note, times)
//	reports_time      zset  report id -> made at (Unix ms), for PruneReports
//	rday:<day>        hash  reporter pseudonym -> reports made that UTC day (day = days since 1970)
//	rdays             zset  the days of rday, for PruneReports
//
// A reporter is only ever a pseudonym: the HMAC of their number under the
// key ring, first key written, all keys looked up (and re-keyed to the
// first on the reporter's next report). No TTL: PruneReports, which the
// retention sweeper calls, deletes what is older than the retention, as
// the embedded store does, with the clock the caller gives it.
const luaReports = `
local RANK = {['1'] = 0, ['2'] = 1, ['3'] = 2}
local function rankkey(st, cnt, n)
  return (RANK[st] or 3) .. string.format('%010d', 4294967295 - math.min(tonumber(cnt), 4294967295)) .. n
end
`

// rankKeyLen is the length of the rank and count that start a rank key.
const rankKeyLen = 11

const reporterKeyLen = 16

// reporterKeys are the pseudonyms of a reporting customer under every key
// of the ring, the first written.
func (s *BlocklistStore) reporterKeys(n phone.Number) []any {
	all := s.ring.All(append([]byte("callverify/blocklist/reporter\x00"), n.String()...))
	out := make([]any, len(all))
	for i, h := range all {
		out[i] = hex.EncodeToString(h[:reporterKeyLen])
	}
	return out
}

type reportRecord struct {
	Caller   string    `json:"caller"`
	Reporter string    `json:"reporter"`
	Note     string    `json:"note,omitempty"`
	Occur    time.Time `json:"occur"`
	Create   time.Time `json:"create"`
}

var readGroupScript = script(`
return {'ok', redis.call('HGETALL', k('reported:' .. ARGV[3]))}
`)

// group is a group as stored, with its version.
type group struct {
	g blocklist.ReportedNumber
	v string
}

func groupFrom(n string, v any) (group, bool, error) {
	kv, _ := v.([]any)
	if len(kv) == 0 {
		return group{}, false, nil
	}
	out := group{g: blocklist.ReportedNumber{CallerNumber: phone.Number(n)}}
	for i := 0; i+1 < len(kv); i += 2 {
		val := str(kv[i+1])
		var err error
		switch str(kv[i]) {
		case "cnt":
			out.g.ReportCount, err = strconv.Atoi(val)
		case "dst":
			out.g.DistinctReporters, err = strconv.Atoi(val)
		case "first":
			out.g.FirstReportTime, err = time.Parse(time.RFC3339Nano, val)
		case "last":
			out.g.LastReportTime, err = time.Parse(time.RFC3339Nano, val)
		case "st":
			var st int
			st, err = strconv.Atoi(val)
			out.g.Status = blocklist.ReportStatus(st)
		case "notes":
			if val != "" {
				err = json.Unmarshal([]byte(val), &out.g.Notes)
			}
		case "eid":
			out.g.EntryID = val
		case "v":
			out.v = val
		}
		if err != nil {
			return group{}, false, fmt.Errorf("reported number %s, field %s: %w", n, str(kv[i]), err)
		}
	}
	return out, true, nil
}

func (s *BlocklistStore) readGroup(ctx context.Context, n phone.Number) (group, bool, error) {
	reply, err := s.run(ctx, readGroupScript, s.keys("reported:"+n.String()), n.String())
	if err != nil {
		return group{}, false, err
	}
	g, ok, err := groupFrom(n.String(), reply[1])
	if err != nil {
		return group{}, false, fault.Unavailable(err)
	}
	return g, ok, nil
}

var addReportScript = script(luaReports + `
local n = ARGV[3]
local hs = {}
for i = 18, #ARGV do hs[#hs + 1] = ARGV[i] end
local gk = k('reported:' .. n)
local g = redis.call('HMGET', gk, 'st', 'eid', 'cnt', 'dst', 'notes', 'v', 'first')
if (g[1] or '') ~= ARGV[16] or (g[2] or '') ~= ARGV[17] then return {'retry'} end
local dk = k('rday:' .. ARGV[4])
local used = 0
for _, h in ipairs(hs) do used = used + (tonumber(redis.call('HGET', dk, h)) or 0) end
local max = tonumber(ARGV[5])
if max > 0 and used >= max then return {'limit', used} end
for i = 2, #hs do redis.call('HDEL', dk, hs[i]) end
redis.call('HSET', dk, hs[1], used + 1)
redis.call('ZADD', k('rdays'), tonumber(ARGV[4]), ARGV[4])

local st = g[1] or '1'
local cnt = tonumber(g[3] or '0')
local dst = tonumber(g[4] or '0')
if g[1] then redis.call('ZREM', k('reported'), rankkey(st, cnt, n)) end
local rk = k('rep:' .. n)
local seen = redis.call('HEXISTS', rk, hs[1]) == 1
for i = 2, #hs do
  if redis.call('HDEL', rk, hs[i]) == 1 then seen = true end
end
if not seen then dst = dst + 1 end
redis.call('HSET', rk, hs[1], ARGV[6])
cnt = cnt + 1
if st == '3' then st = '1' end
local notes = g[5]
local lim = tonumber(ARGV[9])
if ARGV[8] ~= '' and lim > 0 then
  local old = {}
  if notes and notes ~= '' then old = cjson.decode(notes) end
  local new = {ARGV[8]}
  for i = 1, math.min(#old, lim - 1) do new[#new + 1] = old[i] end
  notes = cjson.encode(new)
end
local first = g[7] or ARGV[7]
redis.call('HSET', gk, 'n', n, 'cnt', cnt, 'dst', dst, 'first', first, 'last', ARGV[7], 'st', st,
  'v', tonumber(g[6] or '0') + 1)
if notes then redis.call('HSET', gk, 'notes', notes) end
redis.call('ZADD', k('reported'), 0, rankkey(st, cnt, n))
if st ~= '2' then redis.call('ZADD', k('reported_last'), tonumber(ARGV[6]), n) end
redis.call('HSET', k('reports'), ARGV[11], ARGV[12])
redis.call('ZADD', k('reports_time'), tonumber(ARGV[6]), ARGV[11])
local recent = 0
if ARGV[10] ~= '' then
  local since = tonumber(ARGV[10])
  local all = redis.call('HGETALL', rk)
  for i = 2, #all, 2 do
    if tonumber(all[i]) >= since then recent = recent + 1 end
  end
end
audit(fill(ARGV[13], ARGV[14], tostring(cnt), ARGV[15], tostring(dst)))
return {'ok', cnt, dst, st, recent, first, notes or ''}
`)

// AddReport implements blocklist.Store. The daily allowance, the group,
// the report and the event are one script. The event's status and entry
// come from the group as the method read it (the script checks they still
// hold: a status changes rarely); its counts are the script's.
func (s *BlocklistStore) AddReport(ctx context.Context, r blocklist.Report, reporter phone.Number, lim blocklist.ReportLimits, ev audit.Event) (blocklist.Report, blocklist.ReportedNumber, error) {
	rks := s.reporterKeys(reporter)
	day := r.CreateTime.Unix() / 86400
	if r.CreateTime.Unix() < 0 && r.CreateTime.Unix()%86400 != 0 {
		day--
	}
	since := ""
	if lim.Window > 0 {
		since = strconv.FormatInt(r.CreateTime.Add(-lim.Window).UnixMilli(), 10)
	}
	ph := newPlaceholders()
	for range maxRetries {
		cur, existed, err := s.readGroup(ctx, r.CallerNumber)
		if err != nil {
			return blocklist.Report{}, blocklist.ReportedNumber{}, err
		}
		wantSt, after := "", blocklist.ReportOpen
		if existed {
			wantSt = strconv.Itoa(int(cur.g.Status))
			if cur.g.Status == blocklist.ReportBlocked {
				after = blocklist.ReportBlocked
			}
		}
		r.ID = randomHex(8)
		rec, err := json.Marshal(reportRecord{Caller: r.CallerNumber.String(), Reporter: rks[0].(string), Note: r.Note,
			Occur: r.OccurTime, Create: r.CreateTime})
		if err != nil {
			return blocklist.Report{}, blocklist.ReportedNumber{}, err
		}
		re := blocklist.ReportEvent(ev, r, blocklist.ReportedNumber{CallerNumber: r.CallerNumber, Status: after, EntryID: cur.g.EntryID})
		re.After["report_count"] = ph.raw("count")
		re.After["distinct_reporters"] = ph.raw("distinct")
		evs, err := encodeEvent(re)
		if err != nil {
			return blocklist.Report{}, blocklist.ReportedNumber{}, err
		}
		args := []any{r.CallerNumber.String(), day, lim.MaxPerDay, r.CreateTime.UnixMilli(),
			r.CreateTime.UTC().Format(time.RFC3339Nano), r.Note, lim.Notes, since, r.ID, string(rec), evs,
			ph.text("count"), ph.text("distinct"), wantSt, cur.g.EntryID}
		keys := s.keys("reported:"+r.CallerNumber.String(), "rday:"+strconv.FormatInt(day, 10), "rdays", "reported",
			"rep:"+r.CallerNumber.String(), "reported_last", "reports", "reports_time", "audit")
		reply, err := s.run(ctx, addReportScript, keys, append(args, rks...)...)
		if err != nil {
			return blocklist.Report{}, blocklist.ReportedNumber{}, err
		}
		switch str(reply[0]) {
		case "ok":
		case "retry":
			continue
		case "limit":
			return blocklist.Report{}, blocklist.ReportedNumber{}, fmt.Errorf("reporter made %s reports today: %w", str(reply[1]), fault.ErrResourceExhausted)
		default:
			return blocklist.Report{}, blocklist.ReportedNumber{}, fault.Unavailable(fmt.Errorf("add report: script said %v", reply))
		}
		st, _ := strconv.Atoi(str(reply[3]))
		g := blocklist.ReportedNumber{
			CallerNumber: r.CallerNumber, ReportCount: int(num(reply[1])), DistinctReporters: int(num(reply[2])),
			LastReportTime: r.CreateTime, Status: blocklist.ReportStatus(st), EntryID: cur.g.EntryID,
			RecentReporters: int(num(reply[4])),
		}
		if g.FirstReportTime, err = time.Parse(time.RFC3339Nano, str(reply[5])); err != nil {
			return blocklist.Report{}, blocklist.ReportedNumber{}, fault.Unavailable(err)
		}
		if notes := str(reply[6]); notes != "" {
			if err := json.Unmarshal([]byte(notes), &g.Notes); err != nil {
				return blocklist.Report{}, blocklist.ReportedNumber{}, fault.Unavailable(err)
			}
		}
		return r, g, nil
	}
	return blocklist.Report{}, blocklist.ReportedNumber{}, errBusy
}

// GetReportedNumber implements blocklist.Store.
func (s *BlocklistStore) GetReportedNumber(ctx context.Context, n phone.Number) (blocklist.ReportedNumber, error) {
	g, ok, err := s.readGroup(ctx, n)
	if err != nil {
		return blocklist.ReportedNumber{}, err
	}
	if !ok {
		return blocklist.ReportedNumber{}, fault.ErrNotFound
	}
	return g.g, nil
}

var listGroupsScript = script(`
local from = '-'
if ARGV[3] ~= '' then from = '(' .. ARGV[3] end
local out = {'ok'}
for _, m in ipairs(redis.call('ZRANGEBYLEX', k('reported'), from, '+', 'LIMIT', 0, tonumber(ARGV[4]) + 1)) do
  out[#out + 1] = m
end
return out
`)

// readGroupsScript returns each group's hash (HGETALL), by number.
var readGroupsScript = script(`
local out = {'ok'}
for i = 3, #ARGV do out[#out + 1] = redis.call('HGETALL', k('reported:' .. ARGV[i])) end
return out
`)

// ListReportedNumbers implements blocklist.Store. The cursor is the rank
// key of the last group of the previous page.
func (s *BlocklistStore) ListReportedNumbers(ctx context.Context, cursor string, limit int) ([]blocklist.ReportedNumber, string, error) {
	if limit <= 0 {
		return nil, "", nil
	}
	ranks, err := s.run(ctx, listGroupsScript, s.keys("reported"), cursor, limit)
	if err != nil {
		return nil, "", err
	}
	// The groups are read by a second script, which declares their keys: a
	// group pruned in between is left out.
	keys, args := s.keys(), []any{}
	for _, m := range ranks[1:] {
		if m := str(m); len(m) > rankKeyLen {
			keys.add("reported:" + m[rankKeyLen:])
			args = append(args, m[rankKeyLen:])
		}
	}
	groups := []any{"ok"}
	if len(args) > 0 {
		if groups, err = s.run(ctx, readGroupsScript, keys, args...); err != nil {
			return nil, "", err
		}
		if len(groups) != 1+len(args) {
			return nil, "", fault.Unavailable(fmt.Errorf("list reported numbers: script said %d groups for %d", len(groups)-1, len(args)))
		}
	}
	var out []blocklist.ReportedNumber
	next, last := "", ""
	j := 1
	for _, v := range ranks[1:] {
		m := str(v)
		if len(out) == limit {
			next = last
			break
		}
		if len(m) <= rankKeyLen {
			continue
		}
		g, ok, err := groupFrom(m[rankKeyLen:], groups[j])
		j++
		if err != nil {
			return nil, "", fault.Unavailable(err)
		}
		if ok {
			out = append(out, g.g)
		}
		last = m
	}
	return out, next, nil
}

// resolveScript closes the group if it is still at the version the
// method read (its Before), with, when blocking, the entry the method
// planned: reused (ARGV[8] = '0') or written, if the pattern is still at
// the revision read.
var resolveScript = script(luaReports + `
local n = ARGV[3]
local gk = k('reported:' .. n)
local g = redis.call('HMGET', gk, 'v', 'st', 'cnt')
if not g[1] then return {'notfound'} end
if g[1] ~= ARGV[4] then return {'retry'} end
if g[2] ~= '1' then return {'notopen', g[2]} end
local out = {'ok'}
if ARGV[6] == '1' then
  local p, id = ARGV[9], ARGV[10]
  if (redis.call('HGET', k('e:' .. p), 'rev') or '') ~= ARGV[7] then return {'retry'} end
  if ARGV[8] == '1' then
    local o = entry_conflict(p, ARGV[14], tonumber(ARGV[15]))
    if o then
      if ARGV[7] == '' then id = '' end -- a new entry has no id yet
      return {'conflict', id, p, o}
    end
    if ARGV[7] == '' and redis.call('EXISTS', k('id:' .. id)) == 1 then return {'retry'} end
    out[2] = put(p, id, ARGV[11], ARGV[12], ARGV[13], ARGV[14])
  end
  redis.call('HSET', gk, 'eid', id)
end
redis.call('ZREM', k('reported'), rankkey('1', g[3], n))
redis.call('HSET', gk, 'st', ARGV[5], 'v', tonumber(g[1]) + 1)
redis.call('ZADD', k('reported'), 0, rankkey(ARGV[5], g[3], n))
if ARGV[5] == '2' then redis.call('ZREM', k('reported_last'), n) end
audit(ARGV[16])
return out
`)

// ResolveReportedNumber implements blocklist.Store.
func (s *BlocklistStore) ResolveReportedNumber(ctx context.Context, n phone.Number, status blocklist.ReportStatus, block *blocklist.Entry, now time.Time, ev audit.Event) (blocklist.ReportedNumber, blocklist.Entry, []blocklist.Change, error) {
	for range maxRetries {
		cur, ok, err := s.readGroup(ctx, n)
		if err != nil {
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, err
		}
		if !ok {
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, fault.ErrNotFound
		}
		if cur.g.Status != blocklist.ReportOpen {
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, fmt.Errorf("reports are %s: %w", cur.g.Status, fault.ErrFailedPrecondition)
		}
		after := cur.g
		after.Status = status
		var entry blocklist.Entry
		var blocked *blocklist.Entry
		args := []any{n.String(), cur.v, int(status), "0", "", "0"}
		if block != nil {
			old, found, err := s.getEntries(ctx, false, block.Pattern)
			if err != nil {
				return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, err
			}
			rev, write := "", "1"
			if found[0] {
				rev = strconv.FormatUint(old[0].Rev, 10)
			}
			if found[0] && old[0].ActiveAt(now) {
				entry, write = old[0], "0"
			} else {
				entry = *block
				entry.ID = newEntryID()
				if found[0] {
					// An expired entry of the pattern is renewed, keeping
					// its id: it no longer matches, and the block must.
					entry.ID, entry.CreateBy, entry.CreateTime = old[0].ID, old[0].CreateBy, old[0].CreateTime
				}
			}
			after.EntryID = entry.ID
			blocked = &entry
			args = append([]any{n.String(), cur.v, int(status), "1", rev, write}, s.entryArgs(entry)...)
		} else {
			args = append(args, "", "", "", 0, 0, 0)
		}
		evs, err := encodeEvent(blocklist.ResolveEvent(ev, cur.g, after, blocked))
		if err != nil {
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, err
		}
		keys := s.keys("reported:"+n.String(), "reported", "reported_last", "audit")
		if block != nil {
			keys.put(entry.Pattern, entry.ID).entryConflict(entry.Pattern)
		}
		reply, err := s.run(ctx, resolveScript, keys, append(args, now.UnixMilli(), evs)...)
		if err != nil {
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, err
		}
		switch str(reply[0]) {
		case "ok":
		case "retry":
			continue
		case "notfound":
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, fault.ErrNotFound
		case "notopen":
			st, _ := strconv.Atoi(str(reply[1]))
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, fmt.Errorf("reports are %s: %w", blocklist.ReportStatus(st), fault.ErrFailedPrecondition)
		case "conflict":
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, conflictErr(reply)
		default:
			return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, fault.Unavailable(fmt.Errorf("resolve: script said %v", reply))
		}
		var chs []blocklist.Change
		if len(reply) > 1 {
			entry.Rev = uint64(num(reply[1]))
			chs = append(chs, blocklist.Change{Seq: entry.Rev, Op: blocklist.ChangePut, Entry: entry})
		}
		after.RecentReporters = 0
		return after, entry, chs, nil
	}
	return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, errBusy
}

// pruneCandidatesScript answers {'ok', {number, ...}, {day, ...}}: the
// first ARGV[5] groups retention may delete whose last report is before
// ARGV[3], and the first ARGV[5] reporters' days before day ARGV[4]. Their
// keys are what pruneScript may touch.
var pruneCandidatesScript = script(`
local lim = tonumber(ARGV[5])
return {'ok',
  redis.call('ZRANGEBYSCORE', k('reported_last'), '-inf', '(' .. ARGV[3], 'LIMIT', 0, lim),
  redis.call('ZRANGEBYSCORE', k('rdays'), '-inf', '(' .. ARGV[4], 'LIMIT', 0, lim)}
`)

// pruneScript decides what it deletes first, then deletes it: should a
// group or day it picks not be among the keys the method declared (it
// became old enough after pruneCandidatesScript looked), it answers
// 'retry' having written nothing.
var pruneScript = script(luaReports + `
local lim = tonumber(ARGV[5])
local recs = redis.call('ZRANGEBYSCORE', k('reports_time'), '-inf', '(' .. ARGV[3], 'LIMIT', 0, lim)
local groups = {}
if lim - #recs > 0 then
  for _, n in ipairs(redis.call('ZRANGEBYSCORE', k('reported_last'), '-inf', '(' .. ARGV[3], 'LIMIT', 0, lim - #recs)) do
    if not declared('reported:' .. n) or not declared('rep:' .. n) then return {'retry'} end
    local g = redis.call('HMGET', k('reported:' .. n), 'st', 'cnt')
    groups[#groups + 1] = {n, g[1], g[2]}
  end
end
local ngroups = 0
for _, g in ipairs(groups) do
  if g[2] and g[2] ~= '2' then ngroups = ngroups + 1 end
end
local days = {}
if lim - #recs - ngroups > 0 then
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', k('rdays'), '-inf', '(' .. ARGV[4], 'LIMIT', 0, lim - #recs - ngroups)) do
    if not declared('rday:' .. d) then return {'retry'} end
    days[#days + 1] = d
  end
end
for _, id in ipairs(recs) do
  redis.call('HDEL', k('reports'), id)
  redis.call('ZREM', k('reports_time'), id)
end
for _, g in ipairs(groups) do
  local n = g[1]
  redis.call('ZREM', k('reported_last'), n)
  if g[2] and g[2] ~= '2' then
    redis.call('DEL', k('reported:' .. n), k('rep:' .. n))
    redis.call('ZREM', k('reported'), rankkey(g[2], g[3], n))
  end
end
for _, d in ipairs(days) do
  redis.call('DEL', k('rday:' .. d))
  redis.call('ZREM', k('rdays'), d)
end
local total = #recs + ngroups + #days
if total > 0 then
  audit(fill(ARGV[6], ARGV[7], tostring(#recs), ARGV[8], tostring(ngroups), ARGV[9], tostring(#days)))
end
return {'ok', #recs, ngroups, #days}
`)

// PruneReports implements blocklist.Store: the oldest report records, then
// the groups whose last report is oldest (never BLOCKED ones), then the
// reporters' day counters of days before before (each day's hash counts
// as one), at most limit together, in one script with its event.
func (s *BlocklistStore) PruneReports(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	floorDay := before.Unix() / 86400
	if before.Unix() < 0 {
		floorDay = 0
	}
	ph := newPlaceholders()
	pe := withAfter(ev, map[string]any{
		"pruned_reports": ph.raw("reports"), "pruned_groups": ph.raw("groups"), "pruned_reporter_days": ph.raw("days"),
	})
	evs, err := encodeEvent(pe)
	if err != nil {
		return 0, err
	}
	for range maxRetries {
		cands, err := s.run(ctx, pruneCandidatesScript, s.keys("reported_last", "rdays"), before.UnixMilli(), floorDay, limit)
		if err != nil {
			return 0, err
		}
		if len(cands) != 3 {
			return 0, fault.Unavailable(fmt.Errorf("prune reports: script said %v", cands))
		}
		keys := s.keys("reports_time", "reports", "reported_last", "reported", "rdays", "audit")
		groups, _ := cands[1].([]any)
		for _, n := range groups {
			keys.add("reported:"+str(n), "rep:"+str(n))
		}
		days, _ := cands[2].([]any)
		for _, d := range days {
			keys.add("rday:" + str(d))
		}
		reply, err := s.run(ctx, pruneScript, keys, before.UnixMilli(), floorDay, limit, evs,
			ph.text("reports"), ph.text("groups"), ph.text("days"))
		if err != nil {
			return 0, err
		}
		switch {
		case str(reply[0]) == "retry":
			continue
		case str(reply[0]) != "ok" || len(reply) != 4:
			return 0, fault.Unavailable(fmt.Errorf("prune reports: script said %v", reply))
		}
		return int(num(reply[1]) + num(reply[2]) + num(reply[3])), nil
	}
	return 0, errBusy
}
