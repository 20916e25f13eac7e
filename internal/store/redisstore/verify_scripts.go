package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts of VerifyStore. Each touches the keys of one partition
// only (one hash tag, one cluster slot). A call is a hash:
//
//	d    what never changes (recordpb.CallData), the customer sealed
//	by   the subject that stamped it
//	st   verify.State as a number (1 ACTIVE, 2 ENDED, 4 LOCKED)
//	wr   wrong code attempts
//	ls   the last used code's TOTP step (0 none)
//	ct   when a code last matched (RFC 3339, "" never)
//	et   when it ended ("" not ended)
//	ex   its expiry, Unix ms (the index score)
//	gen  its caller's official record's gen when stamped
//	cr   its caller (an official number, plain), for the line's scripts
//	cm   its callee's customer key (the HMAC, as in the callee index), to
//	     file its call events under; absent on calls stored before events
//
// Scripts return a status string first; the call's fields (HGETALL) follow
// where the caller needs the call as it is after.

// luaEmit appends a call event to the shard's event stream (trimmed to the
// retention by MINID, on the server's clock, which makes the stream ids)
// and publishes the customer's key on the events channel, so that every
// instance wakes its watchers of that customer. A call without a customer
// key (stored before events existed) has no events.
const luaEmit = `
local function emit(stream, mac, id, t, at, keepms, channel)
  if not mac or mac == '' then return end
  local now = redis.call('TIME')
  local nowms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local minid = math.max(0, nowms - tonumber(keepms))
  redis.call('XADD', stream, 'MINID', '~', string.format('%d', minid), '*', 'c', mac, 'i', id, 't', t, 'at', at)
  redis.call('PUBLISH', channel, mac)
end
`

// scriptCreateCall: KEYS call, callee index, audit stream, event stream.
// ARGV id, d, by, st, wr, ls, ct, ex, gen, keep-until ms (expiry +
// retention), index floor ms (older index entries point at calls gone by
// their TTL), event, caller, customer key, create time ms, event retention
// ms, events channel.
var scriptCreateCall = redis.NewScript(luaEmit + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'by', ARGV[3], 'st', ARGV[4], 'wr', ARGV[5], 'ls', ARGV[6],
  'ct', ARGV[7], 'et', '', 'ex', ARGV[8], 'gen', ARGV[9], 'cr', ARGV[13], 'cm', ARGV[14])
redis.call('PEXPIREAT', KEYS[1], ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[11])
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[1])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[10]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[10])
end
redis.call('XADD', KEYS[3], '*', 'e', ARGV[12])
if ARGV[4] == '1' then emit(KEYS[4], ARGV[14], ARGV[1], '1', ARGV[15], ARGV[16], ARGV[17]) end
return 'ok'
`)

// scriptEndCall: KEYS call, audit stream, event stream. ARGV by (""
// anyone), at ms, at, event ("" none), call id, event retention ms,
// events channel.
var scriptEndCall = redis.NewScript(luaEmit + `
local v = redis.call('HMGET', KEYS[1], 'by', 'st', 'ex', 'cm')
if not v[2] then return {'notfound'} end
if ARGV[1] ~= '' and v[1] ~= ARGV[1] then return {'notfound'} end
if v[2] == '1' and tonumber(ARGV[2]) < tonumber(v[3]) then
  redis.call('HSET', KEYS[1], 'st', '2', 'et', ARGV[3])
  if ARGV[4] ~= '' then redis.call('XADD', KEYS[2], '*', 'e', ARGV[4]) end
  emit(KEYS[3], v[4], ARGV[5], '4', ARGV[2], ARGV[6], ARGV[7])
  return {'ended', redis.call('HGETALL', KEYS[1])}
end
return {'ok', redis.call('HGETALL', KEYS[1])}
`)

// scriptEndCalls ends the live calls among KEYS[2..] (all of one shard)
// that are from the caller ARGV[3], with an event each in the shard's
// event stream KEYS[1]. ARGV at ms, at, caller, event retention ms, events
// channel, then the calls' ids (in KEYS' order). It returns, per call, 1
// ended, 0 not live (or expired, or another line's call: a refused
// stamp's entry with a taken id), -1 gone.
var scriptEndCalls = redis.NewScript(luaEmit + `
local out = {}
for i = 2, #KEYS do
  local k = KEYS[i]
  local v = redis.call('HMGET', k, 'st', 'ex', 'cr', 'cm')
  if not v[1] then
    out[i - 1] = -1
  elseif v[3] ~= ARGV[3] then
    out[i - 1] = 0
  elseif v[1] == '1' and tonumber(ARGV[1]) < tonumber(v[2]) then
    redis.call('HSET', k, 'st', '2', 'et', ARGV[2])
    emit(KEYS[1], v[4], ARGV[4 + i], '4', ARGV[1], ARGV[4], ARGV[5])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
`)

// scriptLineDone: KEYS line index, audit stream. ARGV event ("" none),
// then the call ids to drop from the line's live calls.
var scriptLineDone = redis.NewScript(`
for i = 2, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
if ARGV[1] ~= '' then redis.call('XADD', KEYS[2], '*', 'e', ARGV[1]) end
return 'ok'
`)

// scriptAddToLine: KEYS line index, the caller's official record (both in
// {P:dir}). ARGV id, expiry ms, floor ms (the entries of calls gone by
// their TTL by now are dropped). It answers the record's direction and
// gen, as readOfficial's HMGET does, and adds the call to the line's index
// only when there is a record: reading the record and indexing the call
// are one step.
var scriptAddToLine = redis.NewScript(`
local r = redis.call('HMGET', KEYS[2], 'direction', 'gen')
if not r[1] then return r end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
return r
`)

// scriptCodeAttempt: KEYS call, audit stream, event stream. ARGV step,
// limit, now ms, now, lock event, confirm event, call id, event retention
// ms, events channel.
var scriptCodeAttempt = redis.NewScript(luaEmit + `
local v = redis.call('HMGET', KEYS[1], 'st', 'ex', 'wr', 'ls', 'cm')
if not v[1] then return {'notfound'} end
local wrong, limit = tonumber(v[3]), tonumber(ARGV[2])
if v[1] ~= '1' or tonumber(ARGV[3]) >= tonumber(v[2]) or wrong >= limit then return {'conflict'} end
local step = tonumber(ARGV[1])
if step > 0 and step > tonumber(v[4]) then
  redis.call('HSET', KEYS[1], 'ls', ARGV[1], 'ct', ARGV[4])
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[6])
  emit(KEYS[3], v[5], ARGV[7], '2', ARGV[3], ARGV[8], ARGV[9])
  return {'match', redis.call('HGETALL', KEYS[1])}
end
wrong = wrong + 1
redis.call('HSET', KEYS[1], 'wr', wrong)
if wrong >= limit then
  redis.call('HSET', KEYS[1], 'st', '4')
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[5])
  emit(KEYS[3], v[5], ARGV[7], '3', ARGV[3], ARGV[8], ARGV[9])
end
return {'wrong', redis.call('HGETALL', KEYS[1])}
`)

// scriptCreateDevice: KEYS devices, audit stream. ARGV id, device, limit,
// event.
var scriptCreateDevice = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'exhausted' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[4])
return 'ok'
`)

// scriptDeleteDevice: KEYS devices, audit stream. ARGV id, event.
var scriptDeleteDevice = redis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 'notfound' end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
return 'ok'
`)

// scriptPutPreferences: KEYS prefs, audit stream. ARGV marketing (0/1),
// update time, event.
var scriptPutPreferences = redis.NewScript(`
redis.call('HSET', KEYS[1], 'marketing', ARGV[1], 'ut', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
return 'ok'
`)

// scriptRotateKey: KEYS signing keys, audit stream. ARGV expected current
// kid ("" none), next kid, next key, retire time, publish until, event.
// The hash holds "current" and, per kid, k:<kid> (the key as created),
// s:<kid> (its state), r:<kid> and p:<kid> (retire and publish-until
// times).
var scriptRotateKey = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'current') or ''
if cur ~= ARGV[1] then return 'conflict' end
if redis.call('HEXISTS', KEYS[1], 'k:' .. ARGV[2]) == 1 then return 'exists' end
if cur ~= '' then
  redis.call('HSET', KEYS[1], 's:' .. cur, '2', 'r:' .. cur, ARGV[4], 'p:' .. cur, ARGV[5])
end
redis.call('HSET', KEYS[1], 'k:' .. ARGV[2], ARGV[3], 's:' .. ARGV[2], '1', 'current', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[6])
return 'ok'
`)
