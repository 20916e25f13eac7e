package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
)

// IndexSnapshots keep the blocklist's index snapshot in Redis
// (blocklist.SnapshotStore), under a hash tag of their own, {P:ixs}:
//
//	{P:ixs}:meta          hash   seq (the last change it holds), gen, n (chunks), len (bytes)
//	{P:ixs}:c:<gen>:<i>   string chunk i of the snapshot gen (snapshotChunk bytes each, the last shorter)
//	{P:ixs}:lease         string the writing instance's token, PX snapshotLease
//
// A writer takes the lease (SET NX PX), writes its chunks under a new gen
// with a TTL, then one script makes them the snapshot (meta, PERSIST) only
// if its seq is above the saved one, and the writer deletes the chunks of
// the gen it replaced. A reader reads meta, then the chunks; a chunk gone
// (a writer replaced that gen meanwhile) makes it read meta again, once.
// The snapshot carries its own checksum and last change's digest, which
// the blocklist package checks, so nothing here has to be trusted.
type IndexSnapshots struct {
	rdb   redis.UniversalClient
	tag   string
	chunk int
	lease time.Duration
}

var _ blocklist.SnapshotStore = (*IndexSnapshots)(nil)

const (
	// snapshotChunk keeps every value small enough that reading or
	// writing one holds Redis for about a millisecond.
	snapshotChunk = 1 << 20
	// snapshotLease outlasts writing a snapshot of 10M entries (some 50
	// MB) many times over; a writer that dies holding it blocks the
	// others until it expires.
	snapshotLease = 5 * time.Minute
	// snapshotOrphanTTL is the TTL of chunks not (yet) part of the
	// snapshot: a writer that dies before its switch leaves nothing for
	// long.
	snapshotOrphanTTL = time.Hour
)

// IndexSnapshots returns the index snapshots of the store's prefix.
func (s *BlocklistStore) IndexSnapshots() *IndexSnapshots {
	return &IndexSnapshots{
		rdb: s.rdb, tag: strings.TrimSuffix(s.tag, ":dir}") + ":ixs}",
		chunk: snapshotChunk, lease: snapshotLease,
	}
}

func (x *IndexSnapshots) key(name string) string { return x.tag + ":" + name }

func (x *IndexSnapshots) chunkKey(gen string, i int) string {
	return x.key("c:" + gen + ":" + strconv.Itoa(i))
}

var errNoSnapshot = errors.New("redis: no index snapshot")

// LoadSnapshot implements blocklist.SnapshotStore.
func (x *IndexSnapshots) LoadSnapshot(ctx context.Context) ([]byte, error) {
	for range 2 {
		b, err := x.load(ctx)
		if !errors.Is(err, errSnapshotMoved) {
			return b, err
		}
	}
	return nil, errSnapshotMoved
}

var errSnapshotMoved = errors.New("redis: the index snapshot was replaced while read")

func (x *IndexSnapshots) load(ctx context.Context) ([]byte, error) {
	meta, err := x.rdb.HMGet(ctx, x.key("meta"), "gen", "n", "len").Result()
	if err != nil {
		return nil, redisErr(ctx, "read the index snapshot", err)
	}
	if meta[0] == nil {
		return nil, errNoSnapshot
	}
	gen, n, size := str(meta[0]), int(num(meta[1])), int(num(meta[2]))
	if n <= 0 || size <= 0 || size > n*x.chunk {
		return nil, fault.Unavailable(fmt.Errorf("index snapshot meta %v", meta))
	}
	pipe := x.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, n)
	for i := range n {
		cmds[i] = pipe.Get(ctx, x.chunkKey(gen, i))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, redisErr(ctx, "read the index snapshot", err)
	}
	out := make([]byte, 0, size)
	for _, c := range cmds {
		v, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, errSnapshotMoved
		}
		if err != nil {
			return nil, redisErr(ctx, "read the index snapshot", err)
		}
		out = append(out, v...)
	}
	if len(out) != size {
		return nil, fault.Unavailable(fmt.Errorf("index snapshot of %d bytes, meta says %d", len(out), size))
	}
	return out, nil
}

// switchSnapshotScript makes gen (ARGV[2], ARGV[3] chunks in KEYS[2..],
// ARGV[4] bytes) the snapshot at seq ARGV[1] when that is above the saved
// one, and answers {'ok', old gen, old n}; {'stale'} when it is not,
// {'torn'} when a chunk is missing.
var switchSnapshotScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'seq', 'gen', 'n')
if cur[1] and tonumber(cur[1]) >= tonumber(ARGV[1]) then return {'stale'} end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then return {'torn'} end
end
for i = 2, #KEYS do redis.call('PERSIST', KEYS[i]) end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'gen', ARGV[2], 'n', ARGV[3], 'len', ARGV[4])
return {'ok', cur[2] or '', cur[3] or '0'}
`)

// releaseLeaseScript deletes the lease KEYS[1] if it is still ARGV[1]'s.
var releaseLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// SaveSnapshot implements blocklist.SnapshotStore.
func (x *IndexSnapshots) SaveSnapshot(ctx context.Context, seq uint64, write func(io.Writer) error) (bool, error) {
	token := randomHex(16)
	ok, err := x.rdb.SetNX(ctx, x.key("lease"), token, x.lease).Result()
	if err != nil {
		return false, redisErr(ctx, "take the index snapshot lease", err)
	}
	if !ok {
		return false, nil
	}
	defer releaseLeaseScript.Run(context.WithoutCancel(ctx), x.rdb, []string{x.key("lease")}, token)
	saved, err := x.rdb.HGet(ctx, x.key("meta"), "seq").Uint64()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return false, redisErr(ctx, "read the index snapshot", err)
	case saved >= seq:
		return false, nil
	}
	gen := randomHex(8)
	cw := &chunkWriter{ctx: ctx, x: x, gen: gen}
	cleanup := func() { x.drop(context.WithoutCancel(ctx), gen, cw.n) }
	if err := write(cw); err != nil {
		cleanup()
		return false, err
	}
	if err := cw.flush(); err != nil {
		cleanup()
		return false, err
	}
	keys := []string{x.key("meta")}
	for i := range cw.n {
		keys = append(keys, x.chunkKey(gen, i))
	}
	v, err := switchSnapshotScript.Run(ctx, x.rdb, keys, strconv.FormatUint(seq, 10), gen, cw.n, cw.size).Slice()
	if err != nil {
		cleanup()
		return false, redisErr(ctx, "switch the index snapshot", err)
	}
	if str(v[0]) != "ok" {
		cleanup()
		return false, nil
	}
	if old := str(v[1]); old != "" {
		x.drop(ctx, old, int(num(v[2])))
	}
	return true, nil
}

// drop deletes the n chunks of gen.
func (x *IndexSnapshots) drop(ctx context.Context, gen string, n int) {
	if n == 0 {
		return
	}
	keys := make([]string, n)
	for i := range n {
		keys[i] = x.chunkKey(gen, i)
	}
	x.rdb.Unlink(ctx, keys...)
}

// chunkWriter cuts what it is given into chunks and SETs each (with the
// orphans' TTL) as it fills.
type chunkWriter struct {
	ctx  context.Context
	x    *IndexSnapshots
	gen  string
	buf  bytes.Buffer
	n    int
	size int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		room := w.x.chunk - w.buf.Len()
		k := min(room, len(p))
		w.buf.Write(p[:k])
		p = p[k:]
		if w.buf.Len() == w.x.chunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return written, nil
}

func (w *chunkWriter) flush() error {
	if w.buf.Len() == 0 {
		return nil
	}
	if err := w.x.rdb.Set(w.ctx, w.x.chunkKey(w.gen, w.n), w.buf.Bytes(), snapshotOrphanTTL).Err(); err != nil {
		return redisErr(w.ctx, "write the index snapshot", err)
	}
	w.n++
	w.size += w.buf.Len()
	w.buf.Reset()
	return nil
}
