package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/notify"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/seal"
	"github.com/callverify/callverify/verify"
)

// VerifyOptions configure a VerifyStore.
type VerifyOptions struct {
	Layout
	// HMAC turns customers' numbers into keys (its writing key).
	HMAC hmackeys.Ring
	// KEK seals what a value must give back of a customer (a call's callee
	// and customer id): 32 bytes, the service's key-encryption key.
	KEK []byte
	// CallRetention is how long a call is kept after its expiry: Redis
	// deletes it then by itself (its key's TTL).
	CallRetention time.Duration
	// EventRetention is how long call events are kept for a watch to
	// resume (each shard's event stream is trimmed to it as it grows);
	// default DefaultEventRetention.
	EventRetention time.Duration
	// JSONCallRecords makes new calls keep their d field in the JSON of the
	// versions before recordpb.CallData, which read nothing else: for a
	// rolling upgrade from one (docs/operations.md). Both are always read.
	JSONCallRecords bool
}

// DefaultEventRetention is VerifyOptions.EventRetention's default.
const DefaultEventRetention = 24 * time.Hour

// VerifyStore is verify.Store on Redis (standalone, Sentinel or Cluster).
// Every method that changes state is one Lua script on one partition,
// appending its audit event to that partition's stream in the same script.
// Customers' numbers are in no key and no value in plain: keys carry their
// HMAC, a call's callee and customer id are sealed with the KEK, a device
// stores no number at all (its customer is the one asking).
type VerifyStore struct {
	rdb       redis.UniversalClient
	keys      keyspace
	ring      hmackeys.Ring
	seal      *seal.Sealer
	retention time.Duration
	jsonCalls bool // VerifyOptions.JSONCallRecords
	// lines batches the reads of concurrent checks: ListCallsToWithLine's
	// index page and line record, and the calls every ListCallsTo reads.
	lines *readBatcher

	// eventRetention trims the event streams; hub wakes this instance's
	// watchers, fed by one subscription to the events channel (follow),
	// started by the first watcher and stopped by Close.
	eventRetention time.Duration
	hub            *notify.Hub
	followOnce     sync.Once
	stopFollow     context.CancelFunc
	followed       chan struct{}

	// stamped, when set (by tests), runs in CreateCall between storing
	// the call and reading the caller's record again.
	stamped func()
}

var _ verify.Store = (*VerifyStore)(nil)

// NewVerifyStore returns the store; it does not connect (see
// redisconn.Ping).
func NewVerifyStore(rdb redis.UniversalClient, o VerifyOptions) (*VerifyStore, error) {
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
	if o.CallRetention <= 0 {
		return nil, fmt.Errorf("redis store: call retention %v, want a positive duration", o.CallRetention)
	}
	if o.EventRetention <= 0 {
		o.EventRetention = DefaultEventRetention
	}
	return &VerifyStore{rdb: rdb, keys: k, ring: o.HMAC, seal: sealer, retention: o.CallRetention,
		jsonCalls: o.JSONCallRecords, lines: newReadBatcher(rdb), eventRetention: o.EventRetention, hub: notify.New()}, nil
}

// idAlphabet is the call id alphabet (verify's: lower-case base32).
const idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

var idEncoding = base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding)

// callIDLen is the length of a call id: 128 bits in base32.
const callIDLen = 26

// NewCallID implements verify.Store: the callee's shard K in the first
// two characters (10 bits), 118 random bits in the other 24.
func (s *VerifyStore) NewCallID(callee phone.Number) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	id := []byte(idEncoding.EncodeToString(b[:]))
	k := s.keys.customerOf(s.ring, callee).shard
	id[0], id[1] = idAlphabet[k>>5], idAlphabet[k&31]
	return string(id)
}

// idShard is the shard a call id from NewCallID names; false for any other
// id (the conformance suite's names, say), whose shard is recorded in
// {P:dir}:callshard:<id> when the call is stored.
func (k keyspace) idShard(id string) (int, bool) {
	if len(id) != callIDLen {
		return 0, false
	}
	if strings.IndexFunc(id, func(r rune) bool { return !strings.ContainsRune(idAlphabet, r) }) >= 0 {
		return 0, false
	}
	n := strings.IndexByte(idAlphabet, id[0])<<5 | strings.IndexByte(idAlphabet, id[1])
	if n >= k.shards {
		return 0, false
	}
	return n, true
}

// shardsOf finds the shards of ids: from the ids themselves, or from their
// callshard records in one round trip. An id with no shard is left out
// (no such call).
func (s *VerifyStore) shardsOf(ctx context.Context, ids []string) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	var look []string
	for _, id := range ids {
		if n, ok := s.keys.idShard(id); ok {
			out[id] = n
		} else {
			look = append(look, id)
		}
	}
	if len(look) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(look))
	for i, id := range look {
		cmds[i] = pipe.Get(ctx, s.keys.callShard(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, redisErr(ctx, "find calls", err)
	}
	for i, id := range look {
		v, err := cmds[i].Int()
		if err == nil && v >= 0 && v < s.keys.shards {
			out[id] = v
		}
	}
	return out, nil
}

// shardOf finds the shard of one call id, or fault.ErrNotFound.
func (s *VerifyStore) shardOf(ctx context.Context, id string) (int, error) {
	m, err := s.shardsOf(ctx, []string{id})
	if err != nil {
		return 0, err
	}
	n, ok := m[id]
	if !ok {
		return 0, fault.ErrNotFound
	}
	return n, nil
}
