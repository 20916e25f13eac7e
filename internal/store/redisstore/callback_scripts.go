package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts of CallbackStore. A request is a hash in its customer's
// shard:
//
//	d     JSON of what never changes (cbData), the customer sealed
//	cm    the customer's HMAC (the key part), to check the customer
//	st    callback.State as a number (1 OPEN ... 5 EXPIRED)
//	ct    create time, ex expire time, Unix ms
//	by    the claimer's subject; clt, clu claim time and claim-until (ms)
//	call  the call that answered it; fin when it became final (ms)
//
// A waiting request (st 1 or 2, ex in the future) counts against the
// customer's limit; a claim lapses at clu.

// scriptCBEnqueue: KEYS queue, due. ARGV id, create ms, expire ms.
var scriptCBEnqueue = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 'ok'
`)

// scriptCBDrop: KEYS queue, due. ARGV the ids to drop.
var scriptCBDrop = redis.NewScript(`
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return 'ok'
`)

// scriptCBCreate: KEYS request, the customer's index, audit stream, then
// the customer's requests as read from the index. ARGV id, d, cm, ct ms,
// ex ms, max open, keep-until ms, event, how many requests were read. It
// answers retry when the index changed since it was read.
var scriptCBCreate = redis.NewScript(`
local n = tonumber(ARGV[9])
if redis.call('ZCARD', KEYS[2]) ~= n then return 'retry' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local now, waiting = tonumber(ARGV[4]), 0
for i = 4, 3 + n do
  local v = redis.call('HMGET', KEYS[i], 'st', 'ex')
  if not v[1] then
    -- gone by its TTL: its index entry goes too
    local id = string.match(KEYS[i], ':cb:(.*)$')
    if redis.call('ZREM', KEYS[2], id) == 0 then return 'retry' end
  elseif (v[1] == '1' or v[1] == '2') and now < tonumber(v[2]) then
    waiting = waiting + 1
  end
end
if waiting >= tonumber(ARGV[6]) then return 'exhausted' end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'cm', ARGV[3], 'st', '1', 'ct', ARGV[4], 'ex', ARGV[5],
  'by', '', 'clt', '0', 'clu', '0', 'call', '', 'fin', '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[7]) then redis.call('PEXPIREAT', KEYS[2], ARGV[7]) end
redis.call('XADD', KEYS[3], '*', 'e', ARGV[8])
return 'ok'
`)

// scriptCBClaim: KEYS request, audit stream. ARGV by, now ms, until ms,
// event, release event, the claimer read before ("" none).
var scriptCBClaim = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'st', 'by', 'clu', 'ex')
if not v[1] then return {'notfound'} end
local now = tonumber(ARGV[2])
if now >= tonumber(v[4]) then return {'conflict'} end
if v[1] == '2' then
  if now < tonumber(v[3]) then return {'conflict'} end
  if v[2] ~= ARGV[6] then return {'retry'} end
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[5])
elseif v[1] ~= '1' then
  return {'conflict'}
end
redis.call('HSET', KEYS[1], 'st', '2', 'by', ARGV[1], 'clt', ARGV[2], 'clu', ARGV[3])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[4])
return {'ok', redis.call('HGETALL', KEYS[1])}
`)

// scriptCBCancel: KEYS request, audit stream. ARGV now ms, keep-until ms,
// event, then the customer's HMACs (every key of the ring).
var scriptCBCancel = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'st', 'ex', 'cm')
if not v[1] then return {'notfound'} end
local mine = false
for i = 4, #ARGV do if v[3] == ARGV[i] then mine = true end end
if not mine then return {'notfound'} end
if (v[1] ~= '1' and v[1] ~= '2') or tonumber(ARGV[1]) >= tonumber(v[2]) then return {'notfound'} end
redis.call('HSET', KEYS[1], 'st', '4', 'fin', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
return {'ok', redis.call('HGETALL', KEYS[1])}
`)

// scriptCBExpire: KEYS audit stream, then requests of one shard. ARGV now
// ms, retention ms, event, the placeholders of its count and its ids. It
// returns how many it expired.
var scriptCBExpire = redis.NewScript(`
local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = {}
for i = 2, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'st', 'ex')
  if v[1] and (v[1] == '1' or v[1] == '2') and tonumber(v[2]) <= now then
    redis.call('HSET', KEYS[i], 'st', '5', 'fin', v[2])
    redis.call('PEXPIREAT', KEYS[i], tonumber(v[2]) + keep)
    ids[#ids + 1] = string.match(KEYS[i], ':cb:(.*)$')
  end
end
if #ids == 0 then return 0 end
local function put(s, ph, val)
  local i, j = string.find(s, ph, 1, true)
  if not i then return s end
  return string.sub(s, 1, i - 1) .. val .. string.sub(s, j + 1)
end
local e = put(ARGV[3], ARGV[4], tostring(#ids))
e = put(e, ARGV[5], cjson.encode(ids))
redis.call('XADD', KEYS[1], '*', 'e', e)
return #ids
`)
