package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
)

// BlocklistStore is blocklist.Store on Redis. Every key lives in the
// directory partition {P:dir} (docs/redis.md), and every write is one Lua
// script there, declaring every key it touches: a write, its change-log
// records and its audit event commit together or not at all, on a
// standalone server and on a cluster alike, during a slot migration too.
//
// A script cannot call Go, so the audit event is marshalled before the
// script runs. Where the event depends on what the store holds (the
// snapshot of what a delete removes, the outcomes of an import), the method
// reads first, builds the event, and the script checks that what it read is
// still so (a revision, a generation, a group's version) and answers
// "retry" otherwise; the method then reads again. Counts that only the
// script knows (a group's reports, the calls a delete ended, what a prune
// removed) are written into the event by the script, in place of
// placeholders that carry a random nonce no stored text can forge.
type BlocklistStore struct {
	rdb     redis.UniversalClient
	ring    hmackeys.Ring
	endLine func(ctx context.Context, caller phone.Number, at time.Time) (int, error)
	// tag is the directory's hash tag {P:dir}.
	tag string
	// argvBase are the prelude's arguments.
	argvBase []any
	// indexScanPage is how many entries one round trip of
	// ScanIndexEntries reads.
	indexScanPage int
	// jsonEntries is BlocklistOptions.JSONEntryRecords.
	jsonEntries bool
	// importsNew says that the last import batch read found no entry and
	// no official number for any of its rows: the next batches are
	// planned without a read first (ImportEntries). Only a hint; the write
	// script checks every plan.
	importsNew *atomic.Bool
}

var _ blocklist.Store = (*BlocklistStore)(nil)

// BlocklistOptions configure a BlocklistStore.
type BlocklistOptions struct {
	// KeyPrefix is P in {P:dir} (DefaultPrefix when empty).
	KeyPrefix string
	// PseudonymKeys turn a reporting customer's number into the key the
	// store keeps (HMAC): the first key writes, every key is looked up, so
	// that the key can rotate. Required.
	PseudonymKeys hmackeys.Ring
	// ChangeLogRetain is how many of the latest entry changes the change
	// log ({P:dir}:changes, a stream trimmed exactly by MAXLEN in the
	// script that appends) keeps; DefaultChangeLogRetain when zero.
	ChangeLogRetain int
	// EndLine marks the live calls from caller ENDED in their shards after
	// DeleteOfficialNumber deleted it (nil: this deployment keeps no
	// calls). Those calls stopped verifying already, in the delete's own
	// script, by the generation rule of docs/redis.md.
	EndLine func(ctx context.Context, caller phone.Number, at time.Time) (int, error)
	// JSONEntryRecords makes entry writes keep their body (field b of an
	// entry's hash and of its change log records) in the JSON of the
	// versions before recordpb.Entry, which read nothing else: for a
	// rolling upgrade from one of them. Both formats are always read.
	JSONEntryRecords bool
}

// DefaultChangeLogRetain is the change log's default retention.
const DefaultChangeLogRetain = 100_000

// maxRetries bounds how often a method reads again after its script found
// that what it read had changed.
const maxRetries = 32

// NewBlocklistStore returns a store on rdb (a standalone, Sentinel or
// cluster client from internal/redisconn). It writes nothing.
func NewBlocklistStore(rdb redis.UniversalClient, opt BlocklistOptions) (*BlocklistStore, error) {
	if rdb == nil {
		return nil, errors.New("redis blocklist store: no client")
	}
	if opt.PseudonymKeys.Len() == 0 {
		return nil, errors.New("redis blocklist store: no pseudonym key")
	}
	if opt.ChangeLogRetain < 0 {
		return nil, fmt.Errorf("redis blocklist store: ChangeLogRetain %d is negative", opt.ChangeLogRetain)
	}
	if opt.ChangeLogRetain == 0 {
		opt.ChangeLogRetain = DefaultChangeLogRetain
	}
	ks, err := newKeyspace(Layout{Prefix: opt.KeyPrefix})
	if err != nil {
		return nil, err
	}
	tag := ks.dir()
	return &BlocklistStore{
		rdb: rdb, ring: opt.PseudonymKeys, endLine: opt.EndLine,
		tag: tag, argvBase: []any{tag + ":", opt.ChangeLogRetain}, indexScanPage: indexScanPage,
		jsonEntries: opt.JSONEntryRecords, importsNew: new(atomic.Bool),
	}, nil
}

// luaPrelude is the start of every script: ARGV[1] is "{P:dir}:", ARGV[2]
// the change log's retention; a script's own arguments start at ARGV[3].
//
// Every key a script reads or writes is in its KEYS (the method computes
// them, see dirKeys): Redis Cluster checks only the declared keys before a
// script starts, so while the {P:dir} slot migrates it refuses a script
// whose keys are not all on the node (ASK, TRYAGAIN; go-redis follows)
// before it wrote anything, where an undeclared key would fail the script
// halfway, keeping the writes made before it. k(name) names the key
// P..name and raises an error when it is not declared, which the tests on
// a standalone server catch as surely as a cluster would; declared(name)
// lets a script whose keys follow from what it reads answer 'retry' when
// the method's guess no longer holds.
//
// A number a script concatenates goes through string.format('%d'): Lua's
// own conversion (%.14g) would write a sequence of 10^14 or more with an
// exponent.
//
// Entries live in hashes keyed by pattern (e:<pattern>: id, rev, c
// category, s source, x expiry in Unix ms or 0, b the encoded entry), so
// that the unique pattern, an import's upsert and the conflict checks are
// point reads; id:<id> names the pattern of an entry id.
const luaPrelude = `
local P = ARGV[1]
local RETAIN = ARGV[2]
local DECL = {}
for _, key in ipairs(KEYS) do DECL[key] = true end
local function declared(s) return DECL[P .. s] == true end
local function k(s)
  local key = P .. s
  if not DECL[key] then error('callverify: undeclared key ' .. key) end
  return key
end
local function active(x, now)
  x = tonumber(x) or 0
  return x == 0 or now < x
end
-- entry_conflict returns the official number an entry with pattern p and
-- expiry x, active at now, would match, or nil.
local function entry_conflict(p, x, now)
  if not active(x, now) then return nil end
  if string.sub(p, -1) == '*' then
    local pre = string.sub(p, 1, -2)
    local r = redis.call('ZRANGEBYLEX', k('officials'), '[' .. pre, '[' .. pre .. '\255', 'LIMIT', 0, 1)
    return r[1]
  end
  if redis.call('EXISTS', k('official:' .. p)) == 1 then return p end
  return nil
end
-- official_conflict returns {entry id, pattern} of an entry active at now
-- that matches number n: the exact entry, then every prefix, longest first.
local function official_conflict(n, now)
  local cands = {n}
  local d = string.sub(n, 2)
  for l = #d, 1, -1 do cands[#cands + 1] = '+' .. string.sub(d, 1, l) .. '*' end
  for _, p in ipairs(cands) do
    local r = redis.call('HMGET', k('e:' .. p), 'id', 'x')
    if r[1] and active(r[2], now) then return {r[1], p} end
  end
  return nil
end
-- seq_now returns the change sequence, starting it first when the store
-- has none: at the server's time in microseconds, not at 0. A Redis that
-- lost its data then starts above every sequence it handed out before
-- (each change takes it more than a microsecond), so a follower's next
-- read finds a gap and reloads, however many changes came meanwhile.
local function seq_now()
  local s = redis.call('GET', k('seq'))
  if s then return s end
  local t = redis.call('TIME')
  s = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('SET', k('seq'), s)
  return s
end
local function put(p, id, b, c, s, x)
  local ek = k('e:' .. p)
  local old = redis.call('HMGET', ek, 'c', 's')
  if old[1] then redis.call('HINCRBY', k('counts'), old[1] .. ':' .. old[2], -1) end
  seq_now()
  local seq = redis.call('INCR', k('seq'))
  redis.call('HSET', ek, 'id', id, 'rev', seq, 'c', c, 's', s, 'x', x, 'b', b)
  redis.call('SET', k('id:' .. id), p)
  redis.call('ZADD', k('entries'), 0, p)
  redis.call('HINCRBY', k('counts'), c .. ':' .. s, 1)
  redis.call('XADD', k('changes'), 'MAXLEN', RETAIN, string.format('%d-0', seq), 'o', 'p', 'id', id, 'rev', seq, 'b', b)
  return seq
end
local function del(p, dropid)
  local ek = k('e:' .. p)
  local e = redis.call('HMGET', ek, 'id', 'rev', 'c', 's', 'b')
  redis.call('HINCRBY', k('counts'), e[3] .. ':' .. e[4], -1)
  redis.call('DEL', ek)
  redis.call('ZREM', k('entries'), p)
  if dropid then redis.call('DEL', k('id:' .. e[1])) end
  seq_now()
  local seq = redis.call('INCR', k('seq'))
  redis.call('XADD', k('changes'), 'MAXLEN', RETAIN, string.format('%d-0', seq), 'o', 'd', 'id', e[1], 'rev', e[2], 'b', e[5])
  return seq
end
-- log_official appends an official number's change (op 'op' put, 'od'
-- delete; n the number, b its record as JSON) to the change log, numbered
-- by the entries' counter.
local function log_official(op, n, b)
  seq_now()
  local seq = redis.call('INCR', k('seq'))
  redis.call('XADD', k('changes'), 'MAXLEN', RETAIN, string.format('%d-0', seq), 'o', op, 'n', n, 'b', b)
  return seq
end
-- fill puts values the script decided into an event marshalled with
-- placeholders: fill(json, placeholder1, value1, ...), values JSON.
local function fill(ev, ...)
  local a = {...}
  for i = 1, #a, 2 do
    local ph, v = a[i], a[i + 1]
    local from = 1
    while true do
      local s, e = string.find(ev, ph, from, true)
      if not s then break end
      ev = string.sub(ev, 1, s - 1) .. v .. string.sub(ev, e + 1)
      from = s + #v
    end
  end
  return ev
end
local function audit(ev)
  redis.call('XADD', k('audit'), '*', 'e', ev)
end
`

// script is a Lua script with the prelude.
func script(body string) *redis.Script { return redis.NewScript(luaPrelude + body) }

// dirKeys are the keys of one script run: names under {P:dir}, each once,
// in the order added.
type dirKeys struct {
	tag  string
	keys []string
	seen map[string]bool
}

func (s *BlocklistStore) keys(names ...string) *dirKeys {
	return (&dirKeys{tag: s.tag, seen: map[string]bool{}}).add(names...)
}

// keysFor is keys for a script that declares about n keys (an import
// batch's thousands), sized for them at once.
func (s *BlocklistStore) keysFor(n int, names ...string) *dirKeys {
	return (&dirKeys{tag: s.tag, keys: make([]string, 0, n), seen: make(map[string]bool, n)}).add(names...)
}

// add declares the keys P:name.
func (d *dirKeys) add(names ...string) *dirKeys {
	for _, n := range names {
		d.addKey(dirKey(d.tag, n))
	}
	return d
}

// addOf declares the key P:kind<name> (kind "e:", "id:", ...), built in
// one string.
func (d *dirKeys) addOf(kind, name string) *dirKeys {
	return d.addKey(d.tag + ":" + kind + name)
}

func (d *dirKeys) addKey(key string) *dirKeys {
	if !d.seen[key] {
		d.seen[key] = true
		d.keys = append(d.keys, key)
	}
	return d
}

// entryConflict declares what the prelude's entry_conflict reads for
// pattern p: the officials index under a prefix, else the exact number.
func (d *dirKeys) entryConflict(p string) *dirKeys {
	if strings.HasSuffix(p, "*") {
		return d.add("officials")
	}
	return d.addOf("official:", p)
}

// officialConflict declares what official_conflict reads for number n:
// its exact entry and the prefix entry of each of its prefixes.
func (d *dirKeys) officialConflict(n string) *dirKeys {
	d.add("e:" + n)
	digits := strings.TrimPrefix(n, "+")
	for l := len(digits); l >= 1; l-- {
		d.add("e:+" + digits[:l] + "*")
	}
	return d
}

// put declares what put and del write for pattern p and entry id.
func (d *dirKeys) put(p, id string) *dirKeys {
	return d.addOf("e:", p).addOf("id:", id).add("counts", "seq", "entries", "changes")
}

// run runs sc on the directory's slot with keys and the method's
// arguments after the prelude's, and returns its reply: a list whose first
// element is "ok" or what refused the step.
func (s *BlocklistStore) run(ctx context.Context, sc *redis.Script, keys *dirKeys, args ...any) ([]any, error) {
	argv := make([]any, 0, len(s.argvBase)+len(args))
	argv = append(append(argv, s.argvBase...), args...)
	v, err := sc.Run(ctx, s.rdb, keys.keys, argv...).Result()
	if err != nil {
		return nil, redisErr(ctx, "blocklist script", err)
	}
	out, ok := v.([]any)
	if !ok || len(out) == 0 {
		return nil, fault.Unavailable(fmt.Errorf("redis blocklist script answered %T %v", v, v))
	}
	return out, nil
}

var errBusy = fault.Wrap(fault.ErrUnavailable, "the blocklist is too busy; try again", errors.New("redis blocklist: what the step read kept changing"))

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func num(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// placeholders stand for values only a script knows, in an event
// marshalled before it runs.
type placeholders struct{ nonce string }

func newPlaceholders() placeholders { return placeholders{nonce: randomHex(12)} }

// raw is the JSON text of the placeholder for name, to put in an event.
func (p placeholders) raw(name string) json.RawMessage {
	return json.RawMessage(`"\u0001` + p.nonce + ":" + name + `"`)
}

// text is what the script searches for: raw as it appears in the JSON.
func (p placeholders) text(name string) string { return string(p.raw(name)) }

// withAfter returns ev with After a copy holding kv too, leaving the
// caller's map alone.
func withAfter(ev audit.Event, kv map[string]any) audit.Event {
	after := make(map[string]any, len(ev.After)+len(kv))
	for k, v := range ev.After {
		after[k] = v
	}
	for k, v := range kv {
		after[k] = v
	}
	ev.After = after
	return ev
}

func conflictErr(reply []any) error {
	c := &blocklist.ConflictError{}
	if len(reply) > 1 {
		c.EntryID = str(reply[1])
	}
	if len(reply) > 2 {
		c.Pattern = str(reply[2])
	}
	if len(reply) > 3 {
		c.Number = phone.Number(str(reply[3]))
	}
	return c
}
