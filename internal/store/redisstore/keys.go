package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
)

// DefaultPrefix starts every key when Layout.Prefix is empty.
const DefaultPrefix = "cv"

// DefaultShards is the number of customer shards when Layout.Shards is 0.
const DefaultShards = 64

// MaxShards is the most shards a call id can name: its first two base32
// characters (10 bits) are the shard.
const MaxShards = 1 << 10

// Layout says where the stores' keys are (docs/redis.md): the prefix P of
// every key and the number S of customer shards {P:s:K}. Every instance
// of a deployment must use the same layout.
type Layout struct {
	Prefix string // default DefaultPrefix
	Shards int    // default DefaultShards, at most MaxShards
}

// keyspace builds every key of docs/redis.md. It is the one place where a
// key is spelled.
type keyspace struct {
	prefix string
	shards int
}

func newKeyspace(l Layout) (keyspace, error) {
	l.Prefix = strings.TrimSuffix(l.Prefix, ":")
	if l.Prefix == "" {
		l.Prefix = DefaultPrefix
	}
	if l.Shards == 0 {
		l.Shards = DefaultShards
	}
	if l.Shards < 1 || l.Shards > MaxShards {
		return keyspace{}, fmt.Errorf("redis store: %d shards, want 1 to %d", l.Shards, MaxShards)
	}
	return keyspace{prefix: l.Prefix, shards: l.Shards}, nil
}

// dir is the hash tag of the directory partition {P:dir}.
func (k keyspace) dir() string { return "{" + k.prefix + ":dir}" }

// shard is the hash tag of customer shard K, {P:s:K}.
func (k keyspace) shard(n int) string { return "{" + k.prefix + ":s:" + strconv.Itoa(n) + "}" }

func (k keyspace) official(n phone.Number) string { return k.dir() + ":official:" + n.String() }
func (k keyspace) line(n phone.Number) string     { return k.dir() + ":line:" + n.String() }
func (k keyspace) signingKeys() string            { return k.dir() + ":keys" }

// callShard maps a call id that does not carry its shard (one not made
// by NewCallID) to the shard it was stored in.
func (k keyspace) callShard(id string) string { return k.dir() + ":callshard:" + id }

func (k keyspace) call(shard int, id string) string { return k.shard(shard) + ":call:" + id }

// The callbacks (docs/redis.md): a request lives in its customer's shard,
// with the calls, so that a call and the request it answers are one
// script; the queue is an index in {P:cbq}.
func (k keyspace) cbq() string                           { return "{" + k.prefix + ":cbq}" }
func (k keyspace) cbQueue() string                       { return k.cbq() + ":q" }
func (k keyspace) cbDue() string                         { return k.cbq() + ":due" }
func (k keyspace) cbRequest(shard int, id string) string { return k.shard(shard) + ":cb:" + id }
func (k keyspace) cbByCustomer(c customer) string        { return k.shard(c.shard) + ":cbs:" + c.mac }
func (k keyspace) callee(c customer) string              { return k.shard(c.shard) + ":callee:" + c.mac }
func (k keyspace) devices(c customer) string             { return k.shard(c.shard) + ":devices:" + c.mac }
func (k keyspace) prefs(c customer) string               { return k.shard(c.shard) + ":prefs:" + c.mac }

// events is shard n's stream of call events (verify.EventLog).
func (k keyspace) events(n int) string { return k.shard(n) + ":events" }

// eventsChannel is the pub/sub channel on which the scripts that append a
// call event publish its customer's key (no hash tag: a channel is no key).
func (k keyspace) eventsChannel() string { return k.prefix + ":events" }

// audit is the audit stream of partition p (partitionDir or a shard).
func (k keyspace) audit(p int) string {
	if p == partitionDir {
		return k.dir() + ":audit"
	}
	return k.shard(p) + ":audit"
}

// partitionDir names the directory's partition among the audit partitions;
// shards are 0..S-1.
const partitionDir = -1

// customer is a customer as the keys know them: the HMAC of the number and
// the shard it selects. The number itself is in no key.
type customer struct {
	mac   string
	shard int
}

// customerOf is the one place where a customer's number becomes a key:
// HMAC-SHA256 under the ring's writing key, 128 bits of it in hex; the
// first 16 bits select the shard.
func (k keyspace) customerOf(ring hmackeys.Ring, n phone.Number) customer {
	return k.customerFromSum(ring.Sum(customerHMACInput(n)))
}

// customersOf is the customer under every key of the ring, the writing
// key's first: what a read tries, so that what an older key wrote is
// still found after a rotation.
func (k keyspace) customersOf(ring hmackeys.Ring, n phone.Number) []customer {
	sums := ring.All(customerHMACInput(n))
	out := make([]customer, len(sums))
	for i, sum := range sums {
		out[i] = k.customerFromSum(sum)
	}
	return out
}

func customerHMACInput(n phone.Number) []byte { return []byte("callverify customer:" + n.String()) }

func (k keyspace) customerFromSum(sum []byte) customer {
	return customer{
		mac:   hex.EncodeToString(sum[:16]),
		shard: (int(sum[0])<<8 | int(sum[1])) % k.shards,
	}
}

// redisErr turns a client error into the store's: the caller's own
// cancellation as it is, anything else fault.ErrUnavailable (a store that
// cannot answer never says "no data").
func redisErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fault.Unavailable(fmt.Errorf("redis %s: %w", what, err))
}
