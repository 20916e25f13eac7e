package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore/internal/recordpb"
	"github.com/callverify/callverify/internal/store/unixnano"
	"github.com/callverify/callverify/verify"
)

// jsonCallData is the d field of the calls stored before recordpb.CallData,
// read still, and written under VerifyOptions.JSONCallRecords.
type jsonCallData struct {
	Caller       string    `json:"caller"`
	Customer     []byte    `json:"customer"` // sealed jsonCustomer
	Reason       int       `json:"reason"`
	ReasonText   string    `json:"reason_text,omitempty"`
	OrderRef     string    `json:"order_ref,omitempty"`
	AgentID      string    `json:"agent_id"`
	AgentName    string    `json:"agent_name"`
	DisplayName  string    `json:"display_name,omitempty"`
	OrigID       string    `json:"origid"`
	CreateTime   time.Time `json:"create_time"`
	ExpireTime   time.Time `json:"expire_time"`
	DeviceID     string    `json:"device_id,omitempty"`
	SealedSecret []byte    `json:"sealed_secret"`
}

// jsonCustomer is the sealed customer of a jsonCallData.
type jsonCustomer struct {
	Callee     string `json:"callee"`
	CustomerID string `json:"customer_id,omitempty"`
}

func aadCallCustomer(id string) []byte { return []byte("redis call customer:" + id) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// ms is t as the Unix milliseconds of index scores and script checks.
func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// encodeCallData is the d field of c: a recordpb.CallData, its customer
// sealed (or their JSON, under VerifyOptions.JSONCallRecords).
func (s *VerifyStore) encodeCallData(c verify.Call) (string, error) {
	if s.jsonCalls {
		return s.encodeJSONCallData(c)
	}
	cust, err := proto.Marshal(&recordpb.CallCustomer{Callee: c.Callee.String(), CustomerId: c.CustomerID})
	if err != nil {
		return "", err
	}
	b, err := proto.Marshal(&recordpb.CallData{
		Caller: c.Caller.String(), Customer: s.seal.Seal(cust, aadCallCustomer(c.ID)), Reason: int32(c.Reason),
		ReasonText: c.ReasonText, OrderRef: c.OrderRef, AgentId: c.AgentID, AgentName: c.AgentName,
		DisplayName: c.DisplayName, OrigId: c.OrigID, CreateTime: unixnano.FromTime(c.CreateTime),
		ExpireTime: unixnano.FromTime(c.ExpireTime), DeviceId: c.DeviceID, SealedSecret: c.SealedSecret,
	})
	return string(b), err
}

// encodeJSONCallData is the d field of c as the versions before
// recordpb.CallData wrote it.
func (s *VerifyStore) encodeJSONCallData(c verify.Call) (string, error) {
	cust, err := json.Marshal(jsonCustomer{Callee: c.Callee.String(), CustomerID: c.CustomerID})
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(jsonCallData{
		Caller: c.Caller.String(), Customer: s.seal.Seal(cust, aadCallCustomer(c.ID)), Reason: int(c.Reason),
		ReasonText: c.ReasonText, OrderRef: c.OrderRef, AgentID: c.AgentID, AgentName: c.AgentName,
		DisplayName: c.DisplayName, OrigID: c.OrigID, CreateTime: c.CreateTime.UTC(), ExpireTime: c.ExpireTime.UTC(),
		DeviceID: c.DeviceID, SealedSecret: c.SealedSecret,
	})
	return string(b), err
}

// decodeCall reads call id from its hash fields.
func (s *VerifyStore) decodeCall(id string, h map[string]string) (verify.Call, error) {
	c, sealed, err := decodeCallData(h["d"])
	if err != nil {
		return verify.Call{}, fmt.Errorf("decode call %s: %w", id, err)
	}
	plain, err := s.seal.Open(sealed, aadCallCustomer(id))
	if err != nil {
		return verify.Call{}, fmt.Errorf("call %s: %w", id, err)
	}
	if c.Callee, c.CustomerID, err = decodeCallCustomer(plain); err != nil {
		return verify.Call{}, fmt.Errorf("decode call %s: %w", id, err)
	}
	c.ID, c.CreateBy, c.Gen, c.CallbackRequestID = id, h["by"], h["gen"], h["cb"]
	st, err1 := strconv.Atoi(h["st"])
	wr, err2 := strconv.Atoi(h["wr"])
	ls, err3 := strconv.ParseInt(h["ls"], 10, 64)
	ct, err4 := parseTime(h["ct"])
	et, err5 := parseTime(h["et"])
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return verify.Call{}, fmt.Errorf("decode call %s: %w", id, err)
	}
	c.State, c.WrongAttempts, c.LastCodeStep, c.ConfirmTime, c.EndTime = verify.State(st), wr, ls, ct, et
	return c, nil
}

// decodeCallData reads a d field in either format (recordpb.CallData, or
// the JSON written before it, which begins with '{'): the call's fields
// that never change, and its sealed customer.
func decodeCallData(d string) (verify.Call, []byte, error) {
	if strings.HasPrefix(d, "{") {
		var j jsonCallData
		if err := json.Unmarshal([]byte(d), &j); err != nil {
			return verify.Call{}, nil, err
		}
		return verify.Call{
			Caller: phone.Number(j.Caller), Reason: verify.Reason(j.Reason), ReasonText: j.ReasonText,
			OrderRef: j.OrderRef, AgentID: j.AgentID, AgentName: j.AgentName, DisplayName: j.DisplayName,
			OrigID: j.OrigID, CreateTime: j.CreateTime, ExpireTime: j.ExpireTime, DeviceID: j.DeviceID,
			SealedSecret: j.SealedSecret,
		}, j.Customer, nil
	}
	var m recordpb.CallData
	if err := proto.Unmarshal([]byte(d), &m); err != nil {
		return verify.Call{}, nil, err
	}
	return verify.Call{
		Caller: phone.Number(m.Caller), Reason: verify.Reason(m.Reason), ReasonText: m.ReasonText,
		OrderRef: m.OrderRef, AgentID: m.AgentId, AgentName: m.AgentName, DisplayName: m.DisplayName,
		OrigID: m.OrigId, CreateTime: unixnano.ToTime(m.CreateTime), ExpireTime: unixnano.ToTime(m.ExpireTime), DeviceID: m.DeviceId,
		SealedSecret: m.SealedSecret,
	}, m.Customer, nil
}

// decodeCallCustomer reads an opened customer in either format, as
// decodeCallData.
func decodeCallCustomer(plain []byte) (phone.Number, string, error) {
	if len(plain) > 0 && plain[0] == '{' {
		var j jsonCustomer
		err := json.Unmarshal(plain, &j)
		return phone.Number(j.Callee), j.CustomerID, err
	}
	var m recordpb.CallCustomer
	err := proto.Unmarshal(plain, &m)
	return phone.Number(m.Callee), m.CustomerId, err
}

// fields turns a script's HGETALL reply into a map.
func fields(v any) map[string]string {
	a, _ := v.([]any)
	h := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		v, _ := a[i+1].(string)
		h[k] = v
	}
	return h
}

// reply splits a script's reply into its status and the call's fields.
func reply(v any) (string, map[string]string) {
	a, _ := v.([]any)
	if len(a) == 0 {
		return "", nil
	}
	status, _ := a[0].(string)
	if len(a) < 2 {
		return status, nil
	}
	return status, fields(a[1])
}

// officialRecord is what CreateCall reads of {P:dir}:official:<E164>, the
// numbers domain's record (docs/redis.md): its direction and generation.
type officialRecord struct {
	exists      bool
	placesCalls bool
	inboundOnly bool
	gen         string
}

// readOfficial reads n's record in a pipeline shared with the reads
// running at the same time (readBatcher).
func (s *VerifyStore) readOfficial(ctx context.Context, n phone.Number) (officialRecord, error) {
	var cmd *redis.SliceCmd
	if err := s.lines.do(ctx, func(bctx context.Context, p redis.Pipeliner) {
		cmd = p.HMGet(bctx, s.keys.official(n), "direction", "gen")
	}); err != nil {
		return officialRecord{}, err
	}
	return officialOf(ctx, cmd)
}

// officialOf decodes the reply of readOfficial's HMGET.
func officialOf(ctx context.Context, cmd *redis.SliceCmd) (officialRecord, error) {
	v, err := cmd.Result()
	if err != nil {
		return officialRecord{}, redisErr(ctx, "read official number", err)
	}
	return lineRecordOf(v)
}

// lineRecordOf decodes an official record's direction and gen.
func lineRecordOf(v []any) (officialRecord, error) {
	if len(v) != 2 {
		return officialRecord{}, fmt.Errorf("read official number: %d fields for 2", len(v))
	}
	dir, _ := v[0].(string)
	gen, _ := v[1].(string)
	if v[0] == nil {
		return officialRecord{}, nil
	}
	return officialRecord{exists: true, placesCalls: placesCalls(dir), inboundOnly: inboundOnly(dir), gen: gen}, nil
}

// CreateCall implements verify.Store. The official number is in {P:dir},
// the call in its callee's shard, so the check spans two slots
// (docs/redis.md): read the caller's record (direction, gen) and add the
// call to the line's index in {P:dir}, in one script; store the call,
// carrying gen, with its event in one script on the shard; read the
// record again. When it
// changed or is gone meanwhile, the call is ended at once and the stamp
// fails with fault.ErrFailedPrecondition: whoever changed the record ends
// the line's calls from the index (EndLine), and this ends the one that
// raced it. A call refused before the shard script leaves at most a
// dangling index entry, which nothing counts.
func (s *VerifyStore) CreateCall(ctx context.Context, c verify.Call, ev audit.Event) error {
	c.CallbackRequestID = "" // only CreateCallbackCall answers a request
	return s.createCall(ctx, c, ev, nil)
}

// createCall is CreateCall, and with answered CreateCallbackCall: the
// shard's script then checks and answers the request in the same step.
func (s *VerifyStore) createCall(ctx context.Context, c verify.Call, ev audit.Event, answered *audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	reply, err := scriptAddToLine.Run(ctx, s.rdb, []string{s.keys.line(c.Caller), s.keys.official(c.Caller)},
		c.ID, ms(c.ExpireTime), ms(c.CreateTime.Add(-s.retention))).Slice()
	if err != nil {
		return redisErr(ctx, "index the call", err)
	}
	off, err := lineRecordOf(reply)
	if err != nil {
		return err
	}
	if !off.exists || !off.placesCalls || c.Gen != "" && c.Gen != off.gen {
		return fault.ErrFailedPrecondition
	}
	cust := s.keys.customerOf(s.ring, c.Callee)
	shard := cust.shard
	if n, ok := s.keys.idShard(c.ID); ok {
		if n != shard {
			return fault.Invalid("call_id", "was not made for this callee (NewCallID)")
		}
	} else if err := s.claimCallShard(ctx, c, shard); err != nil {
		return err
	}
	d, err := s.encodeCallData(c)
	if err != nil {
		return err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	keepUntil := c.ExpireTime.Add(s.retention)
	keys := []string{s.keys.call(shard, c.ID), s.keys.callee(cust), s.keys.audit(shard), s.keys.events(shard)}
	args := []any{c.ID, d, c.CreateBy, int(c.State), c.WrongAttempts, c.LastCodeStep, formatTime(c.ConfirmTime),
		ms(c.ExpireTime), off.gen, ms(keepUntil), ms(c.CreateTime.Add(-s.retention)), e, c.Caller.String(),
		cust.mac, ms(c.CreateTime), s.eventRetention.Milliseconds(), s.keys.eventsChannel()}
	script := scriptCreateCall
	if answered != nil {
		// The request lives in its customer's shard: the callee's, when
		// the call goes to the requester (else it is another customer's).
		rshard, ok := s.keys.idShard(c.CallbackRequestID)
		if !ok || rshard != shard {
			return fault.ErrConflict
		}
		a, err := encodeEvent(*answered)
		if err != nil {
			return err
		}
		keys = append(keys, s.keys.cbRequest(shard, c.CallbackRequestID))
		args = append(args, c.CallbackRequestID, a)
		script = scriptCreateCallbackCall
	}
	status, err := script.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return redisErr(ctx, "create call", err)
	}
	switch status {
	case "exists":
		return fault.ErrAlreadyExists
	case "conflict":
		return fault.ErrConflict
	}
	if answered != nil {
		_ = scriptCBDrop.Run(context.WithoutCancel(ctx), s.rdb, []string{s.keys.cbQueue(), s.keys.cbDue()}, c.CallbackRequestID).Err()
	}
	if s.stamped != nil {
		s.stamped()
	}
	after, err := s.readOfficial(context.WithoutCancel(ctx), c.Caller)
	if err != nil {
		return err
	}
	if after.exists && after.placesCalls && after.gen == off.gen {
		return nil
	}
	// The line was deleted or changed while the call was stored.
	end := ev
	end.Actor, end.Role, end.Action, end.Target = audit.System.Subject, audit.System.Role, "call.end", c.ID
	end.Before, end.After = nil, map[string]any{"reason": "the caller's official number changed while the call was stamped"}
	if _, err := s.endCall(context.WithoutCancel(ctx), shard, c.ID, "", c.CreateTime, &end); err != nil {
		return err
	}
	return fault.ErrFailedPrecondition
}

// claimCallShard records the shard of a call id that does not carry it.
// An id recorded for another shard is taken.
func (s *VerifyStore) claimCallShard(ctx context.Context, c verify.Call, shard int) error {
	k := s.keys.callShard(c.ID)
	keepUntil := c.ExpireTime.Add(s.retention)
	ok, err := s.rdb.SetNX(ctx, k, shard, 0).Result()
	if err != nil {
		return redisErr(ctx, "record the call's shard", err)
	}
	if !ok {
		cur, err := s.rdb.Get(ctx, k).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return redisErr(ctx, "record the call's shard", err)
		}
		if cur != shard {
			return fault.ErrAlreadyExists
		}
		// The same shard: the shard's script decides whether the id is
		// taken. The record must live as long as the call.
		return redisErr(ctx, "record the call's shard", s.rdb.Do(ctx, "PEXPIREAT", k, keepUntil.UnixMilli(), "GT").Err())
	}
	return redisErr(ctx, "record the call's shard", s.rdb.PExpireAt(ctx, k, keepUntil).Err())
}

// GetCall implements verify.Store: GetCallWithLine without a caller, the
// call alone in a batched pipeline.
func (s *VerifyStore) GetCall(ctx context.Context, id string) (verify.Call, error) {
	c, _, err := s.GetCallWithLine(ctx, id, "")
	return c, err
}

// callOf decodes the reply of HGETALL of call id.
func (s *VerifyStore) callOf(ctx context.Context, id string, cmd *redis.MapStringStringCmd) (verify.Call, error) {
	h, err := cmd.Result()
	if err != nil {
		return verify.Call{}, redisErr(ctx, "get call", err)
	}
	if len(h) == 0 {
		return verify.Call{}, fault.ErrNotFound
	}
	return s.decodeCall(id, h)
}

var _ verify.CallLineReader = (*VerifyStore)(nil)

// GetCallWithLine implements verify.CallLineReader: the call (in its
// shard) and, when the request names the caller it expects, that caller's
// record (HMGET in {P:dir}) in one pipeline, shared with the reads running
// at the same time (readBatcher).
func (s *VerifyStore) GetCallWithLine(ctx context.Context, id string, caller phone.Number) (verify.Call, verify.CallerLine, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, verify.CallerLine{}, err
	}
	shard, err := s.shardOf(ctx, id)
	if err != nil {
		return verify.Call{}, verify.CallerLine{}, err
	}
	var (
		h    *redis.MapStringStringCmd
		line *redis.SliceCmd
	)
	if err := s.lines.do(ctx, func(bctx context.Context, p redis.Pipeliner) {
		h = p.HGetAll(bctx, s.keys.call(shard, id))
		if caller != "" {
			line = p.HMGet(bctx, s.keys.official(caller), "direction", "gen")
		}
	}); err != nil {
		return verify.Call{}, verify.CallerLine{}, err
	}
	c, err := s.callOf(ctx, id, h)
	if err != nil || line == nil {
		return c, verify.CallerLine{}, err
	}
	rec, err := officialOf(ctx, line)
	if err != nil {
		// Left out, not failed: the record is read again for a call the
		// request may use (CallerLine), and a failure here must not tell
		// a call it may not use from an unknown one.
		return c, verify.CallerLine{}, nil
	}
	l := lineOf(rec)
	l.Number = caller
	return c, l, nil
}

// CallerLine implements verify.CallLineReader (readOfficial).
func (s *VerifyStore) CallerLine(ctx context.Context, n phone.Number) (verify.CallerLine, error) {
	rec, err := s.readOfficial(ctx, n)
	if err != nil {
		return verify.CallerLine{}, err
	}
	l := lineOf(rec)
	l.Number = n
	return l, nil
}

// ListCallsTo implements verify.Store: the callee's index, then its calls,
// on the callee's shard (for each key of the HMAC ring: after a rotation,
// the calls stamped under an older key are in that key's shard).
func (s *VerifyStore) ListCallsTo(ctx context.Context, callee phone.Number, after time.Time, limit int) ([]verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	var out []verify.Call
	for _, cust := range s.keys.customersOf(s.ring, callee) {
		calls, err := s.activeCallsTo(ctx, cust, after, limit, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, calls...)
	}
	return newestCalls(out, limit), nil
}

var _ verify.LineReader = (*VerifyStore)(nil)

// ListCallsToWithLine implements verify.LineReader: the first page of
// the callee's index (on the callee's shard) and the caller's record (HMGET
// in {P:dir}) go in one pipeline, then the calls the page names in a
// second; both are shared with the checks running at the same time
// (readBatcher): one round trip to each node for all of them, each time. A
// callee with calls under several HMAC keys (after a rotation) is read as
// ListCallsTo reads it.
func (s *VerifyStore) ListCallsToWithLine(ctx context.Context, callee, caller phone.Number, after time.Time, limit int) ([]verify.Call, verify.CallerLine, error) {
	if err := ctx.Err(); err != nil {
		return nil, verify.CallerLine{}, err
	}
	custs := s.keys.customersOf(s.ring, callee)
	if len(custs) != 1 || limit <= 0 {
		calls, err := s.ListCallsTo(ctx, callee, after, limit)
		if err != nil {
			return nil, verify.CallerLine{}, err
		}
		rec, err := s.readOfficial(ctx, caller)
		return calls, lineOf(rec), err
	}
	cust := custs[0]
	var listed *redis.StringSliceCmd
	var line *redis.SliceCmd
	if err := s.lines.do(ctx, func(bctx context.Context, p redis.Pipeliner) {
		listed = p.ZRevRangeByScore(bctx, s.keys.callee(cust), calleePage(after, 0))
		line = p.HMGet(bctx, s.keys.official(caller), "direction", "gen")
	}); err != nil {
		return nil, verify.CallerLine{}, err
	}
	rec, err := officialOf(ctx, line)
	if err != nil {
		return nil, verify.CallerLine{}, err
	}
	first, err := listed.Result()
	if err != nil {
		return nil, verify.CallerLine{}, redisErr(ctx, "list calls", err)
	}
	calls, err := s.activeCallsTo(ctx, cust, after, limit, &first)
	if err != nil {
		return nil, verify.CallerLine{}, err
	}
	return newestCalls(calls, limit), lineOf(rec), nil
}

func lineOf(r officialRecord) verify.CallerLine {
	return verify.CallerLine{Registered: r.exists, PlacesCalls: r.placesCalls, InboundOnly: r.inboundOnly, Gen: r.gen}
}

// newestCalls orders calls newest first (latest expiry, then id) and keeps
// limit.
func newestCalls(out []verify.Call, limit int) []verify.Call {
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].ExpireTime.Equal(out[j].ExpireTime) {
			return out[i].ExpireTime.After(out[j].ExpireTime)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// listCallsBatch is how many ids of a callee's index ListCallsTo reads at
// a time.
const listCallsBatch = 64

// activeCallsTo lists the calls of cust's index stored ACTIVE whose
// expiry is after after, latest expiry first, up to limit: a page of the
// index at a time (first, when not nil, is the first page, already read),
// then the calls the page names (activeCalls).
//
// The two reads are plain commands, not one script: a script reading the
// calls would have to name keys it did not declare (their ids are in the
// index), which a Cluster does not check and, while the shard's slot
// migrates, reads on the wrong node as missing; and it costs Redis about
// twice the CPU of the same reads as commands (BenchmarkListCallsToWithLine).
// Between the two reads a call may be stamped (it is not listed, as if
// asked a moment earlier), end or expire (read as it is then): each call's
// state is what Redis holds when it is read.
func (s *VerifyStore) activeCallsTo(ctx context.Context, cust customer, after time.Time, limit int, first *[]string) ([]verify.Call, error) {
	var out []verify.Call
	for off := 0; len(out) < limit; off += listCallsBatch {
		var ids []string
		if off == 0 && first != nil {
			ids = *first
		} else {
			var err error
			if ids, err = s.rdb.ZRevRangeByScore(ctx, s.keys.callee(cust), calleePage(after, off)).Result(); err != nil {
				return nil, redisErr(ctx, "list calls", err)
			}
		}
		hs, err := s.activeCalls(ctx, cust.shard, ids)
		if err != nil {
			return nil, err
		}
		for i, h := range hs {
			if h != nil && len(out) < limit {
				c, err := s.decodeCall(ids[i], h)
				if err != nil {
					return nil, err
				}
				out = append(out, c)
			}
		}
		if len(ids) < listCallsBatch {
			break
		}
	}
	return out, nil
}

// calleePage is the page of a callee's index at off: the ids of calls
// expiring after after, latest expiry first.
func calleePage(after time.Time, off int) *redis.ZRangeBy {
	return &redis.ZRangeBy{Min: "(" + ms(after), Max: "+inf", Offset: int64(off), Count: listCallsBatch}
}

// activeCalls reads the calls of shard with ids in one pipeline, shared
// with the reads running at the same time (readBatcher): hs[i] is the
// fields of ids[i] when it is stored ACTIVE, else nil (ended, locked, or
// gone by its TTL with its index entry lingering).
func (s *VerifyStore) activeCalls(ctx context.Context, shard int, ids []string) ([]map[string]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if err := s.lines.do(ctx, func(bctx context.Context, p redis.Pipeliner) {
		for i, id := range ids {
			cmds[i] = p.HGetAll(bctx, s.keys.call(shard, id))
		}
	}); err != nil {
		return nil, err
	}
	hs := make([]map[string]string, len(ids))
	for i, cmd := range cmds {
		h, err := cmd.Result()
		if err != nil {
			return nil, redisErr(ctx, "list calls", err)
		}
		if h["st"] == "1" {
			hs[i] = h
		}
	}
	return hs, nil
}

// lineCursor is a place in a line's index: after the entry of id with
// score expire (Unix ms).
type lineCursor struct {
	expire int64
	id     string
}

func (c lineCursor) String() string { return strconv.FormatInt(c.expire, 10) + "." + c.id }

func parseLineCursor(s string) (lineCursor, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			n, err := strconv.ParseInt(s[:i], 10, 64)
			if err != nil || i+1 == len(s) {
				return lineCursor{}, false
			}
			return lineCursor{n, s[i+1:]}, true
		}
	}
	return lineCursor{}, false
}

// lineBatch is how many index entries one read of a line takes.
const lineBatch = 100

// ListCallsFrom implements verify.Store: the line's index in {P:dir}, in
// expiry order, each call read from its shard; entries whose call is not
// live (ended, locked, or not stored: a stamp refused or in flight) are
// passed over. The cursor is "<expiry ms>.<id>" of the last call listed.
func (s *VerifyStore) ListCallsFrom(ctx context.Context, caller phone.Number, now time.Time, cursor string, limit int) ([]verify.Call, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	from := lineCursor{expire: now.UnixMilli(), id: ""}
	if cursor != "" {
		c, ok := parseLineCursor(cursor)
		if !ok {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		if c.expire > from.expire || (c.expire == from.expire && c.id > from.id) {
			from = c
		}
	}
	var out []verify.Call
	var last lineCursor
	key := s.keys.line(caller)
	min := strconv.FormatInt(from.expire, 10)
	if from.id == "" {
		min = "(" + min
	}
	for offset := int64(0); ; offset += lineBatch {
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Min: min, Max: "+inf", Offset: offset, Count: lineBatch}).Result()
		if err != nil {
			return nil, "", redisErr(ctx, "list calls", err)
		}
		var ids []string
		var scores []int64
		for _, z := range zs {
			id, _ := z.Member.(string)
			score := int64(z.Score)
			if score == from.expire && id <= from.id {
				continue
			}
			ids, scores = append(ids, id), append(scores, score)
		}
		calls, err := s.getCalls(ctx, ids)
		if err != nil {
			return nil, "", err
		}
		for i, id := range ids {
			c, ok := calls[id]
			// Not stored (yet), not live, or another line's call under
			// an id a refused stamp tried to take.
			if !ok || c.Caller != caller || c.State != verify.StateActive || !now.Before(c.ExpireTime) {
				continue
			}
			if len(out) == limit {
				return out, last.String(), nil
			}
			out = append(out, c)
			last = lineCursor{scores[i], id}
		}
		if len(zs) < lineBatch {
			return out, "", nil
		}
	}
}

// getCalls reads calls by id across shards in one pipeline; ids with no
// stored call are left out.
func (s *VerifyStore) getCalls(ctx context.Context, ids []string) (map[string]verify.Call, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	shards, err := s.shardsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make(map[string]*redis.MapStringStringCmd, len(ids))
	for _, id := range ids {
		if n, ok := shards[id]; ok {
			cmds[id] = pipe.HGetAll(ctx, s.keys.call(n, id))
		}
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, redisErr(ctx, "get calls", err)
	}
	out := make(map[string]verify.Call, len(cmds))
	for id, cmd := range cmds {
		h := cmd.Val()
		if len(h) == 0 {
			continue
		}
		c, err := s.decodeCall(id, h)
		if err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, nil
}

// endCall ends call id of shard when it is live at at, appending ev when
// it did (nil: no event).
func (s *VerifyStore) endCall(ctx context.Context, shard int, id, by string, at time.Time, ev *audit.Event) (verify.Call, error) {
	e := ""
	if ev != nil {
		var err error
		if e, err = encodeEvent(*ev); err != nil {
			return verify.Call{}, err
		}
	}
	v, err := scriptEndCall.Run(ctx, s.rdb, []string{s.keys.call(shard, id), s.keys.audit(shard), s.keys.events(shard)},
		by, ms(at), formatTime(at), e, id, s.eventRetention.Milliseconds(), s.keys.eventsChannel()).Result()
	if err != nil {
		return verify.Call{}, redisErr(ctx, "end call", err)
	}
	status, h := reply(v)
	if status == "notfound" {
		return verify.Call{}, fault.ErrNotFound
	}
	return s.decodeCall(id, h)
}

// EndCall implements verify.Store: the owner check, the end and its event
// are one script on the call's shard.
func (s *VerifyStore) EndCall(ctx context.Context, id, by string, at time.Time, ev audit.Event) (verify.Call, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, err
	}
	shard, err := s.shardOf(ctx, id)
	if err != nil {
		return verify.Call{}, err
	}
	return s.endCall(ctx, shard, id, by, at, &ev)
}

// EndLine ends every call from caller that is stored ACTIVE and not expired
// at at, and returns how many. The numbers domain's store calls it when it
// deletes (or changes) the official number caller, after the change: a
// call stamped meanwhile carries the old gen and is ended by its own
// CreateCall. It appends no event (the official number's change has its
// own).
func (s *VerifyStore) EndLine(ctx context.Context, caller phone.Number, at time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.endLine(ctx, caller, at, nil)
}

// EndCallsFrom implements verify.Store: the calls are in many shards, so
// each shard's are ended by one script, then the line's index entries are
// dropped and ev (with the count) appended by one script on {P:dir}. An
// interrupted run leaves some calls ended and no event; running it again
// ends the rest and records the step.
func (s *VerifyStore) EndCallsFrom(ctx context.Context, caller phone.Number, at time.Time, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.endLine(ctx, caller, at, &ev)
}

func (s *VerifyStore) endLine(ctx context.Context, caller phone.Number, at time.Time, ev *audit.Event) (int, error) {
	key := s.keys.line(caller)
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Min: "-inf", Max: "+inf"}).Result()
	if err != nil {
		return 0, redisErr(ctx, "list the line's calls", err)
	}
	atMS := at.UnixMilli()
	var ids, done []string
	for _, z := range zs {
		id, _ := z.Member.(string)
		if int64(z.Score) <= atMS {
			done = append(done, id) // expired by then: nothing to end, ever
		} else {
			ids = append(ids, id)
		}
	}
	shards, err := s.shardsOf(ctx, ids)
	if err != nil {
		return 0, err
	}
	byShard := map[int][]string{}
	for _, id := range ids {
		if n, ok := shards[id]; ok {
			byShard[n] = append(byShard[n], id)
		}
	}
	ended := 0
	for n, ids := range byShard {
		keys := []string{s.keys.events(n)}
		args := []any{atMS, formatTime(at), caller.String(), s.eventRetention.Milliseconds(), s.keys.eventsChannel()}
		for _, id := range ids {
			keys = append(keys, s.keys.call(n, id))
			args = append(args, id)
		}
		res, err := scriptEndCalls.Run(ctx, s.rdb, keys, args...).Int64Slice()
		if err != nil {
			return 0, redisErr(ctx, "end calls", err)
		}
		for i, r := range res {
			switch r {
			case 1:
				ended++
				done = append(done, ids[i])
			case 0:
				done = append(done, ids[i])
			}
			// -1: not stored (yet): a stamp in flight ends its own call
			// when it finds the line changed; leave its entry.
		}
	}
	e := ""
	if ev != nil {
		withN := withCount(*ev, "ended_calls", ended)
		if e, err = encodeEvent(withN); err != nil {
			return 0, err
		}
	}
	if e == "" && len(done) == 0 {
		return ended, nil
	}
	args := append([]any{e}, toAny(done)...)
	if err := scriptLineDone.Run(ctx, s.rdb, []string{key, s.keys.audit(partitionDir)}, args...).Err(); err != nil {
		return 0, redisErr(ctx, "end calls", err)
	}
	return ended, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// withCount returns ev with After[key] = n, leaving the caller's map alone.
func withCount(ev audit.Event, key string, n int) audit.Event {
	after := make(map[string]any, len(ev.After)+1)
	for k, v := range ev.After {
		after[k] = v
	}
	after[key] = n
	ev.After = after
	return ev
}

// RecordCodeAttempt implements verify.Store: the checks, the use of the
// code and its event (or the count of a wrong one, the lock and its
// event) are one script on the call's shard.
func (s *VerifyStore) RecordCodeAttempt(ctx context.Context, id string, step int64, limit int, now time.Time, lock, confirm audit.Event) (verify.Call, bool, error) {
	if err := ctx.Err(); err != nil {
		return verify.Call{}, false, err
	}
	shard, err := s.shardOf(ctx, id)
	if err != nil {
		return verify.Call{}, false, err
	}
	le, err := encodeEvent(lock)
	if err != nil {
		return verify.Call{}, false, err
	}
	ce, err := encodeEvent(confirm)
	if err != nil {
		return verify.Call{}, false, err
	}
	v, err := scriptCodeAttempt.Run(ctx, s.rdb, []string{s.keys.call(shard, id), s.keys.audit(shard), s.keys.events(shard)},
		step, limit, ms(now), formatTime(now), le, ce, id, s.eventRetention.Milliseconds(), s.keys.eventsChannel()).Result()
	if err != nil {
		return verify.Call{}, false, redisErr(ctx, "record code attempt", err)
	}
	status, h := reply(v)
	switch status {
	case "notfound":
		return verify.Call{}, false, fault.ErrNotFound
	case "conflict":
		return verify.Call{}, false, fault.ErrConflict
	}
	c, err := s.decodeCall(id, h)
	return c, status == "match", err
}

// PruneCalls implements verify.Store. Redis deletes a call by itself when
// its retention ends (the call's key has a TTL of its expiry plus
// CallRetention), and the indexes drop what points at a deleted call (a
// customer's index when a call is stamped to them, a line's as calls
// expire or end, a call-shard record by its own TTL), so this is a no-op
// that returns 0 and appends nothing: Redis's expiry is not audited.
func (s *VerifyStore) PruneCalls(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	return 0, ctx.Err()
}
