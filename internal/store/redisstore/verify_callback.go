package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// CreateCallbackCall implements verify.Store: CreateCall's steps, with the
// shard's script (scriptCreateCallbackCall) checking the callback request
// and setting it CALLED in the same step as it stores the call. A request
// lives in its customer's shard, which is the callee's shard when the call
// goes to the requester, so both are one script on one slot
// (docs/redis.md). The queue entry in {P:cbq} is dropped afterwards.
func (s *VerifyStore) CreateCallbackCall(ctx context.Context, c verify.Call, ev, answered audit.Event) error {
	if c.CallbackRequestID == "" {
		return fault.Invalid("callback_request_id", "is required")
	}
	return s.createCall(ctx, c, ev, &answered)
}

// scriptCreateCallbackCall is scriptCreateCall answering a request. KEYS
// those of scriptCreateCall (call, callee index, audit stream, event
// stream), then the request. ARGV those of scriptCreateCall (14 the
// callee's HMAC, 15 the call's create time ms), then the request id and
// the answered event. The request must be claimed (st
// 2) by the call's dialer, the claim and the request live at the call's
// create time, and its customer the callee; else conflict, nothing written.
var scriptCreateCallbackCall = redis.NewScript(luaEmit + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local r = redis.call('HMGET', KEYS[5], 'st', 'by', 'clu', 'ex', 'cm')
local at = tonumber(ARGV[15])
if not r[1] or r[1] ~= '2' or r[2] ~= ARGV[3] or at >= tonumber(r[3]) or at >= tonumber(r[4]) or r[5] ~= ARGV[14] then
  return 'conflict'
end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'by', ARGV[3], 'st', ARGV[4], 'wr', ARGV[5], 'ls', ARGV[6],
  'ct', ARGV[7], 'et', '', 'ex', ARGV[8], 'gen', ARGV[9], 'cr', ARGV[13], 'cm', ARGV[14], 'cb', ARGV[18])
redis.call('PEXPIREAT', KEYS[1], ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[11])
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[1])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[10]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[10])
end
redis.call('HSET', KEYS[5], 'st', '3', 'call', ARGV[1], 'fin', ARGV[15])
redis.call('XADD', KEYS[3], '*', 'e', ARGV[12])
redis.call('XADD', KEYS[3], '*', 'e', ARGV[19])
if ARGV[4] == '1' then emit(KEYS[4], ARGV[14], ARGV[1], '1', ARGV[15], ARGV[16], ARGV[17]) end
return 'ok'
`)
