package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/seal"
)

// CallbackOptions configure a CallbackStore. Layout, HMAC and KEK must be
// those of the deployment's VerifyStore: a request lives in its customer's
// shard, next to the calls that answer it.
type CallbackOptions struct {
	Layout
	HMAC hmackeys.Ring
	KEK  []byte
	// Retention is how long a final request is kept: its key's TTL.
	Retention time.Duration
}

// CallbackStore is callback.Store on Redis. A request is a hash in its
// customer's shard {P:s:K} (its id carries K, like a call id); the queue
// of waiting requests and their expiries are sorted sets in {P:cbq}. Every
// change of a request is one script on its shard with its audit event; the
// queue is an index kept after it (docs/redis.md): an entry whose request
// is gone or final is skipped by every reader and dropped.
type CallbackStore struct {
	rdb       redis.UniversalClient
	keys      keyspace
	ring      hmackeys.Ring
	seal      *seal.Sealer
	retention time.Duration
}

var _ callback.Store = (*CallbackStore)(nil)

// NewCallbackStore returns the store; it does not connect.
func NewCallbackStore(rdb redis.UniversalClient, o CallbackOptions) (*CallbackStore, error) {
	k, err := newKeyspace(o.Layout)
	if err != nil {
		return nil, err
	}
	if o.HMAC.Len() == 0 {
		return nil, errors.New("redis store: no HMAC key")
	}
	sealer, err := seal.New(o.KEK)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	if o.Retention <= 0 {
		return nil, fmt.Errorf("redis store: callback retention %v, want a positive duration", o.Retention)
	}
	return &CallbackStore{rdb: rdb, keys: k, ring: o.HMAC, seal: sealer, retention: o.Retention}, nil
}

// cbData is the part of a request that never changes (the d field).
type cbData struct {
	Customer    []byte    `json:"customer"` // sealed cbCustomer
	Reason      int       `json:"reason"`
	OrderRef    string    `json:"order_ref,omitempty"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	Language    string    `json:"language"`
	CreateTime  time.Time `json:"create_time"`
	ExpireTime  time.Time `json:"expire_time"`
}

type cbCustomer struct {
	Number     string `json:"number"`
	CustomerID string `json:"customer_id,omitempty"`
}

func aadCallbackCustomer(id string) []byte { return []byte("redis callback customer:" + id) }

// NewRequestID implements callback.Store: the customer's shard K in the
// first two characters, as NewCallID.
func (s *CallbackStore) NewRequestID(customer phone.Number) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	id := []byte(idEncoding.EncodeToString(b[:]))
	k := s.keys.customerOf(s.ring, customer).shard
	id[0], id[1] = idAlphabet[k>>5], idAlphabet[k&31]
	return string(id)
}

func msTime(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func (s *CallbackStore) decode(id string, h map[string]string) (callback.Request, error) {
	var d cbData
	if err := json.Unmarshal([]byte(h["d"]), &d); err != nil {
		return callback.Request{}, fmt.Errorf("decode callback request %s: %w", id, err)
	}
	plain, err := s.seal.Open(d.Customer, aadCallbackCustomer(id))
	if err != nil {
		return callback.Request{}, fmt.Errorf("callback request %s: %w", id, err)
	}
	var c cbCustomer
	if err := json.Unmarshal(plain, &c); err != nil {
		return callback.Request{}, fmt.Errorf("decode callback request %s: %w", id, err)
	}
	st, _ := strconv.Atoi(h["st"])
	return callback.Request{
		ID: id, Customer: phone.Number(c.Number), CustomerID: c.CustomerID, Reason: d.Reason, OrderRef: d.OrderRef,
		Window: callback.Window{Start: d.WindowStart, End: d.WindowEnd}, Language: d.Language,
		State: callback.State(st), CreateTime: d.CreateTime, ExpireTime: d.ExpireTime, ClaimedBy: h["by"],
		ClaimTime: msTime(h["clt"]), ClaimUntil: msTime(h["clu"]), CallID: h["call"], FinalTime: msTime(h["fin"]),
	}, nil
}

// requestKey is the key of request id, or fault.ErrNotFound for an id that
// names no shard.
func (s *CallbackStore) requestKey(id string) (string, int, error) {
	n, ok := s.keys.idShard(id)
	if !ok {
		return "", 0, fault.ErrNotFound
	}
	return s.keys.cbRequest(n, id), n, nil
}

// dropFromQueue removes ids from the queue's indexes: what a change made
// final, or an entry whose request is gone. Best effort: an entry left
// behind is skipped by every reader.
func (s *CallbackStore) dropFromQueue(ctx context.Context, ids ...string) {
	if len(ids) == 0 {
		return
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	_ = scriptCBDrop.Run(context.WithoutCancel(ctx), s.rdb, []string{s.keys.cbQueue(), s.keys.cbDue()}, members...).Err()
}

// CreateRequest implements callback.Store. The queue entry is written
// first (in {P:cbq}), then the request with its event in its shard, whose
// script counts the customer's waiting requests; a refused request's
// entry is dropped again, and one left dangling is skipped.
func (s *CallbackStore) CreateRequest(ctx context.Context, r callback.Request, maxOpen int, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key, shard, err := s.requestKey(r.ID)
	cust := s.keys.customerOf(s.ring, r.Customer)
	if err != nil || shard != cust.shard {
		return fault.Invalid("request_id", "was not made for this customer (NewRequestID)")
	}
	plain, err := json.Marshal(cbCustomer{Number: r.Customer.String(), CustomerID: r.CustomerID})
	if err != nil {
		return err
	}
	d, err := json.Marshal(cbData{
		Customer: s.seal.Seal(plain, aadCallbackCustomer(r.ID)), Reason: r.Reason, OrderRef: r.OrderRef,
		WindowStart: r.Window.Start.UTC(), WindowEnd: r.Window.End.UTC(), Language: r.Language,
		CreateTime: r.CreateTime.UTC(), ExpireTime: r.ExpireTime.UTC(),
	})
	if err != nil {
		return err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	idx := s.keys.cbByCustomer(cust)
	if err := scriptCBEnqueue.Run(ctx, s.rdb, []string{s.keys.cbQueue(), s.keys.cbDue()}, r.ID, ms(r.CreateTime), ms(r.ExpireTime)).Err(); err != nil {
		return redisErr(ctx, "queue the callback request", err)
	}
	for range 5 {
		// The customer's requests are declared keys: read the index,
		// then run with them; the script answers retry when it changed.
		others, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
		if err != nil {
			s.dropFromQueue(ctx, r.ID)
			return redisErr(ctx, "read the customer's callback requests", err)
		}
		keys := []string{key, idx, s.keys.audit(shard)}
		for _, o := range others {
			keys = append(keys, s.keys.cbRequest(shard, o))
		}
		status, err := scriptCBCreate.Run(ctx, s.rdb, keys, r.ID, string(d), cust.mac, ms(r.CreateTime), ms(r.ExpireTime),
			maxOpen, ms(r.ExpireTime.Add(s.retention)), e, len(others)).Text()
		if err != nil {
			s.dropFromQueue(ctx, r.ID)
			return redisErr(ctx, "create callback request", err)
		}
		switch status {
		case "ok":
			return nil
		case "retry":
			continue
		case "exists":
			return fault.ErrAlreadyExists // the queue entry is the existing request's
		case "exhausted":
			s.dropFromQueue(ctx, r.ID)
			return fault.ErrResourceExhausted
		}
		s.dropFromQueue(ctx, r.ID)
		return fmt.Errorf("create callback request: unexpected answer %q", status)
	}
	s.dropFromQueue(ctx, r.ID)
	return fault.Unavailable(errors.New("the customer's callback requests kept changing"))
}

// GetRequest implements callback.Store.
func (s *CallbackStore) GetRequest(ctx context.Context, id string) (callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return callback.Request{}, err
	}
	key, _, err := s.requestKey(id)
	if err != nil {
		return callback.Request{}, err
	}
	h, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return callback.Request{}, redisErr(ctx, "get callback request", err)
	}
	if len(h) == 0 {
		return callback.Request{}, fault.ErrNotFound
	}
	return s.decode(id, h)
}

// readRequests reads the requests of ids (a pipeline: one round trip,
// each read to its own slot); a missing one is left out of the map.
func (s *CallbackStore) readRequests(ctx context.Context, ids []string) (map[string]callback.Request, error) {
	out := make(map[string]callback.Request, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		key, _, err := s.requestKey(id)
		if err != nil {
			continue
		}
		cmds[i] = pipe.HGetAll(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, redisErr(ctx, "read callback requests", err)
	}
	for i, id := range ids {
		if cmds[i] == nil {
			continue
		}
		h, err := cmds[i].Result()
		if err != nil || len(h) == 0 {
			continue
		}
		r, err := s.decode(id, h)
		if err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

// ListByCustomer implements callback.Store, under every key of the ring.
func (s *CallbackStore) ListByCustomer(ctx context.Context, customer phone.Number, limit int) ([]callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []callback.Request
	for _, cust := range s.keys.customersOf(s.ring, customer) {
		ids, err := s.rdb.ZRevRange(ctx, s.keys.cbByCustomer(cust), 0, int64(limit)-1).Result()
		if err != nil {
			return nil, redisErr(ctx, "list callback requests", err)
		}
		rs, err := s.readRequests(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if r, ok := rs[id]; ok && r.Customer == customer {
				out = append(out, r)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreateTime.Equal(out[j].CreateTime) {
			return out[i].CreateTime.After(out[j].CreateTime)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// QueuePosition implements callback.Store: the request's rank in the
// queue index, which holds the waiting requests (and, until the sweeper's
// next run, those that expired since: docs/redis.md).
func (s *CallbackStore) QueuePosition(ctx context.Context, id string, now time.Time) (int, error) {
	r, err := s.GetRequest(ctx, id)
	if err != nil {
		return 0, err
	}
	if r.StateAt(now) != callback.StateOpen {
		return 0, nil
	}
	rank, err := s.rdb.ZRank(ctx, s.keys.cbQueue(), id).Result()
	if errors.Is(err, redis.Nil) {
		n, err := s.rdb.ZCount(ctx, s.keys.cbQueue(), "-inf", "("+ms(r.CreateTime)).Result()
		return int(n) + 1, redisErr(ctx, "queue position", err)
	}
	if err != nil {
		return 0, redisErr(ctx, "queue position", err)
	}
	return int(rank) + 1, nil
}

// listOpenScan bounds how many queue entries one page examines.
const listOpenScan = 2000

// CountWaiting implements callback.Store: ZCARD of the queue. A request
// made final leaves the queue just after its script (or, should that
// fail, at the next ListOpen or sweep), so the count may run one ahead
// for that moment.
func (s *CallbackStore) CountWaiting(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.rdb.ZCard(ctx, s.keys.cbQueue()).Result()
	if err != nil {
		return 0, redisErr(ctx, "count the callback queue", err)
	}
	return int(n), nil
}

// ListOpen implements callback.Store. The cursor is "<ms>:<id>" of the
// last queue entry examined.
func (s *CallbackStore) ListOpen(ctx context.Context, now time.Time, reason int, cursor string, limit int) ([]callback.Request, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	minScore, afterID := "-inf", ""
	if cursor != "" {
		sc, id, ok := strings.Cut(cursor, ":")
		if _, err := strconv.ParseInt(sc, 10, 64); !ok || err != nil || id == "" {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		minScore, afterID = sc, id
	}
	var (
		out  []callback.Request
		seen int
		last string
		gone []string
	)
	defer func() { s.dropFromQueue(ctx, gone...) }()
	for offset := int64(0); ; {
		batch, err := s.rdb.ZRangeByScoreWithScores(ctx, s.keys.cbQueue(), &redis.ZRangeBy{
			Min: minScore, Max: "+inf", Offset: offset, Count: 200,
		}).Result()
		if err != nil {
			return nil, "", redisErr(ctx, "list the callback queue", err)
		}
		offset += int64(len(batch))
		var ids []string
		for _, z := range batch {
			id, _ := z.Member.(string)
			sc := strconv.FormatInt(int64(z.Score), 10)
			if afterID != "" && sc == minScore && id <= afterID {
				continue
			}
			ids = append(ids, id)
		}
		rs, err := s.readRequests(ctx, ids)
		if err != nil {
			return nil, "", err
		}
		for _, id := range ids {
			if len(out) == limit || seen == listOpenScan {
				return out, last, nil
			}
			seen++
			r, ok := rs[id]
			if !ok {
				gone = append(gone, id)
				continue
			}
			last = ms(r.CreateTime) + ":" + id
			if !r.Waiting(now) && r.State.Final() {
				gone = append(gone, id)
			}
			if r.StateAt(now) == callback.StateOpen && (reason == 0 || r.Reason == reason) {
				out = append(out, r)
			}
		}
		if len(batch) < 200 {
			return out, "", nil
		}
	}
}

// Claim implements callback.Store: one script on the request's shard.
func (s *CallbackStore) Claim(ctx context.Context, id, by string, now, until time.Time, ev, released audit.Event) (callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return callback.Request{}, err
	}
	key, shard, err := s.requestKey(id)
	if err != nil {
		return callback.Request{}, err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return callback.Request{}, err
	}
	for range 5 {
		// The release event names the lapsed claimer: read it, and the
		// script claims only if it is still the same.
		prev, err := s.rdb.HGet(ctx, key, "by").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return callback.Request{}, redisErr(ctx, "claim callback request", err)
		}
		rel := released
		rel.Before = withField(rel.Before, "claimed_by", prev)
		re, err := encodeEvent(rel)
		if err != nil {
			return callback.Request{}, err
		}
		v, err := scriptCBClaim.Run(ctx, s.rdb, []string{key, s.keys.audit(shard)}, by, ms(now), ms(until), e, re, prev).Result()
		if err != nil {
			return callback.Request{}, redisErr(ctx, "claim callback request", err)
		}
		status, h := reply(v)
		switch status {
		case "ok":
			return s.decode(id, h)
		case "notfound":
			return callback.Request{}, fault.ErrNotFound
		case "conflict":
			return callback.Request{}, fault.ErrConflict
		case "retry":
			continue
		}
		return callback.Request{}, fmt.Errorf("claim callback request: unexpected answer %q", status)
	}
	return callback.Request{}, fault.ErrConflict
}

func withField(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// Cancel implements callback.Store.
func (s *CallbackStore) Cancel(ctx context.Context, id string, customer phone.Number, now time.Time, ev audit.Event) (callback.Request, error) {
	if err := ctx.Err(); err != nil {
		return callback.Request{}, err
	}
	key, shard, err := s.requestKey(id)
	if err != nil {
		return callback.Request{}, err
	}
	e, err := encodeEvent(ev)
	if err != nil {
		return callback.Request{}, err
	}
	args := []any{ms(now), ms(now.Add(s.retention)), e}
	for _, c := range s.keys.customersOf(s.ring, customer) {
		args = append(args, c.mac)
	}
	v, err := scriptCBCancel.Run(ctx, s.rdb, []string{key, s.keys.audit(shard)}, args...).Result()
	if err != nil {
		return callback.Request{}, redisErr(ctx, "cancel callback request", err)
	}
	status, h := reply(v)
	if status != "ok" {
		return callback.Request{}, fault.ErrNotFound
	}
	s.dropFromQueue(ctx, id)
	return s.decode(id, h)
}

// ExpireRequests implements callback.Store: the due requests from
// {P:cbq}:due, then one script per shard that expires its own and appends
// that shard's event with its count (one event per shard it changed).
func (s *CallbackStore) ExpireRequests(ctx context.Context, now time.Time, limit int, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	ids, err := s.rdb.ZRangeByScore(ctx, s.keys.cbDue(), &redis.ZRangeBy{Min: "-inf", Max: ms(now), Count: int64(limit)}).Result()
	if err != nil {
		return 0, redisErr(ctx, "read due callback requests", err)
	}
	byShard := map[int][]string{}
	var gone []string
	for _, id := range ids {
		if n, ok := s.keys.idShard(id); ok {
			byShard[n] = append(byShard[n], id)
		} else {
			gone = append(gone, id)
		}
	}
	total := 0
	for shard, sids := range byShard {
		ph := newPlaceholders()
		e, err := encodeEvent(withAfter(ev, map[string]any{"expired_callbacks": ph.raw("n"), "request_ids": ph.raw("ids")}))
		if err != nil {
			return total, err
		}
		keys := []string{s.keys.audit(shard)}
		for _, id := range sids {
			keys = append(keys, s.keys.cbRequest(shard, id))
		}
		n, err := scriptCBExpire.Run(ctx, s.rdb, keys, ms(now), s.retention.Milliseconds(), e, ph.text("n"), ph.text("ids")).Int()
		if err != nil {
			return total, redisErr(ctx, "expire callback requests", err)
		}
		total += n
		gone = append(gone, sids...) // every one is final or gone now
	}
	s.dropFromQueue(ctx, gone...)
	return total, nil
}

// PruneRequests implements callback.Store: a no-op, Redis drops a final
// request by its key's TTL (its final time plus the retention, set by the
// step that made it final).
func (s *CallbackStore) PruneRequests(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	return 0, ctx.Err()
}
