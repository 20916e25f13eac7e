package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// pagePatternsScript answers {'ok', seq, pattern, ...}: the change
// sequence and up to ARGV[4] patterns after ARGV[3] (exclusive; empty from
// the start) in the zset {P:dir}:entries.
var pagePatternsScript = script(`
local from = '-'
if ARGV[3] ~= '' then from = '(' .. ARGV[3] end
local out = {'ok', seq_now()}
for _, p in ipairs(redis.call('ZRANGEBYLEX', k('entries'), from, '+', 'LIMIT', 0, tonumber(ARGV[4]))) do
  out[#out + 1] = p
end
return out
`)

// page is one bounded read of the entries in pattern order.
type page struct {
	last    string
	done    bool
	seq     uint64
	entries []blocklist.Entry
}

// page reads up to limit entries of f after the pattern after, looking at
// maxScan patterns at most, in two round trips: a script reads the
// sequence and the patterns, then one pipeline an HMGET of each pattern's
// entry (id, rev, b, and when filtered c and s). Plain HMGETs, not a
// script, as in ScanIndexEntries: they cost Redis about half what a
// script's redis.call does, and each follows a slot migration's ASK. An
// entry deleted in between is not seen, one created in between not
// listed, one changed in between seen as it then is: ScanEntries' replay
// from the sequence read first covers all three, pattern by pattern.
//
// A filtered page reads the entries in chunks, so that a filter that
// selects many entries does not read maxScan of them to keep a few.
func (s *BlocklistStore) page(ctx context.Context, f blocklist.EntryFilter, after string, limit, maxScan int) (page, error) {
	filtered := f != (blocklist.EntryFilter{})
	n := maxScan
	if !filtered {
		n = min(limit, maxScan)
	}
	reply, err := s.run(ctx, pagePatternsScript, s.keys("seq", "entries"), after, n)
	if err != nil {
		return page{}, err
	}
	if len(reply) < 2 {
		return page{}, fault.Unavailable(fmt.Errorf("list entries: script said %d values", len(reply)))
	}
	seq, err := strconv.ParseUint(str(reply[1]), 10, 64)
	if err != nil {
		return page{}, fault.Unavailable(fmt.Errorf("blocklist sequence %q: %w", str(reply[1]), err))
	}
	patterns := reply[2:]
	p := page{last: after, done: len(patterns) < n, seq: seq}
	looked := 0
	for looked < len(patterns) && len(p.entries) < limit {
		chunk := len(patterns) - looked
		if filtered {
			chunk = min(chunk, max(2*(limit-len(p.entries)), minFilteredChunk))
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, chunk)
		for i := range cmds {
			key := s.tag + ":e:" + str(patterns[looked+i])
			if filtered {
				cmds[i] = pipe.HMGet(ctx, key, "id", "rev", "b", "c", "s")
			} else {
				cmds[i] = pipe.HMGet(ctx, key, "id", "rev", "b")
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return page{}, redisErr(ctx, "list entries", err)
		}
		for _, c := range cmds {
			if len(p.entries) == limit {
				break
			}
			looked++
			v := c.Val()
			if len(v) < 3 || v[0] == nil {
				continue // deleted since its pattern was read
			}
			if filtered && !f.Match(blocklist.Entry{Category: blocklist.Category(num(v[3])), Source: blocklist.Source(num(v[4]))}) {
				continue
			}
			e, err := decodeEntry(str(v[0]), str(v[1]), str(v[2]))
			if err != nil {
				return page{}, fault.Unavailable(err)
			}
			p.entries = append(p.entries, e)
		}
	}
	if looked > 0 {
		p.last = str(patterns[looked-1])
	}
	p.done = p.done && looked == len(patterns)
	return p, nil
}

// minFilteredChunk is how many entries a filtered page reads in one
// pipeline at least.
const minFilteredChunk = 256

// scanBudget is how many patterns one page script looks at, at most.
const scanBudget = 4096

// ListEntries implements blocklist.Store. A filter that selects few entries
// takes several bounded scripts; each sees the store as it then is.
func (s *BlocklistStore) ListEntries(ctx context.Context, f blocklist.EntryFilter, after string, limit int) ([]blocklist.Entry, error) {
	var out []blocklist.Entry
	for len(out) < limit {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := s.page(ctx, f, after, limit-len(out), scanBudget)
		if err != nil {
			return nil, err
		}
		out = append(out, p.entries...)
		if p.done {
			break
		}
		after = p.last
	}
	return out, nil
}

var countScript = script(`
return {'ok', redis.call('HGETALL', k('counts'))}
`)

// CountEntries implements blocklist.Store from the counts per category and
// source ({P:dir}:counts, field "<category>:<source>") that every entry
// write keeps in its own script.
func (s *BlocklistStore) CountEntries(ctx context.Context, f blocklist.EntryFilter) (int, error) {
	reply, err := s.run(ctx, countScript, s.keys("counts"))
	if err != nil {
		return 0, err
	}
	kv, _ := reply[1].([]any)
	n := 0
	for i := 0; i+1 < len(kv); i += 2 {
		c, src, ok := strings.Cut(str(kv[i]), ":")
		if !ok {
			continue
		}
		ci, _ := strconv.Atoi(c)
		si, _ := strconv.Atoi(src)
		if f.Match(blocklist.Entry{Category: blocklist.Category(ci), Source: blocklist.Source(si)}) {
			n += int(num(kv[i+1]))
		}
	}
	return n, nil
}

// scanPage is how many entries one script of ScanEntries returns.
const scanPage = 1000

// ScanEntries implements blocklist.Store. A script cannot hold a snapshot
// across pages, and one script over 10 million entries would stop Redis for
// seconds, so the scan reads the sequence S in its first page and then
// pages through the entries in pattern order while writes go on, and
// returns S. Replaying the change log after S over what it saw ends in the
// store's state, pattern by pattern: a pattern no change after S touched
// was seen as it stood at S (or, absent, not seen); a pattern changed after
// S was seen in some state, absent included, and the replay, which applies
// every change after S in order (Index.Apply overwrites by pattern), ends
// with its last change. So the follower's index converges even though no
// single moment held exactly what the scan saw.
func (s *BlocklistStore) ScanEntries(ctx context.Context, fn func(blocklist.Entry) error) (uint64, error) {
	var seq uint64
	after := ""
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		p, err := s.page(ctx, blocklist.EntryFilter{}, after, scanPage, scanPage)
		if err != nil {
			return 0, err
		}
		if first {
			seq = p.seq
		}
		for _, e := range p.entries {
			if err := fn(e); err != nil {
				return 0, err
			}
		}
		if p.done {
			return seq, nil
		}
		after = p.last
	}
}

// Changes implements blocklist.Store from the stream {P:dir}:changes,
// whose entry IDs are "<seq>-0". The log keeps the last ChangeLogRetain
// changes (trimmed by exact MAXLEN in the script that appends); a follower
// asking for a trimmed change, or beyond {P:dir}:seq (Redis lost its data,
// or the prefix names another store), gets ErrGap and reloads. A Redis
// that lost its data starts the sequence again at its clock in
// microseconds (seq_now), above any sequence it handed out before, so a
// follower finds the gap even when other instances wrote more changes
// meanwhile than it had seen.
//
// One pipeline reads the sequence, then the records from afterSeq+1: plain
// commands, not a script, which would cost Redis the stream's records
// twice more (into Lua and out again). The log only grows at its end and
// is trimmed at its start, so each answer is the one a script would have
// given at the time of the one read or the other: records from afterSeq+1
// on are the changes after afterSeq whenever they were read; none, at the
// sequence read, is no change yet; and a sequence below afterSeq, or a
// log without afterSeq+1 while the sequence is past it, is a gap.
func (s *BlocklistStore) Changes(ctx context.Context, afterSeq uint64, limit int) ([]blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fault.Invalid("limit", "must be positive")
	}
	from := strconv.FormatUint(afterSeq+1, 10) + "-0"
	pipe := s.rdb.Pipeline()
	seqCmd := pipe.Get(ctx, dirKey(s.tag, "seq"))
	logCmd := pipe.XRangeN(ctx, dirKey(s.tag, "changes"), from, "+", int64(limit))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, redisErr(ctx, "blocklist changes", err)
	}
	var last uint64
	if v, err := seqCmd.Result(); err == nil {
		if last, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, fault.Unavailable(fmt.Errorf("blocklist sequence %q: %w", v, err))
		}
	} else if !errors.Is(err, redis.Nil) {
		return nil, redisErr(ctx, "blocklist changes", err)
	}
	msgs, err := logCmd.Result()
	if err != nil {
		return nil, redisErr(ctx, "blocklist changes", err)
	}
	switch {
	case afterSeq > last:
	case len(msgs) > 0 && msgs[0].ID == from:
		out := make([]blocklist.Change, 0, len(msgs))
		for _, m := range msgs {
			c, err := decodeChange(m.ID, m.Values)
			if err != nil {
				return nil, fault.Unavailable(err)
			}
			out = append(out, c)
		}
		return out, nil
	case afterSeq == last:
		return []blocklist.Change{}, nil
	}
	return nil, fault.Wrap(fault.ErrFailedPrecondition, "the change log no longer holds the changes asked for; reload",
		fmt.Errorf("changes after %d (last %d): %w", afterSeq, last, blocklist.ErrGap))
}

var errBadChange = errors.New("corrupt blocklist change record")

func decodeChange(id string, fields map[string]any) (blocklist.Change, error) {
	seqText, _, _ := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return blocklist.Change{}, fmt.Errorf("change %s: %w", id, errBadChange)
	}
	m := func(f string) string { return str(fields[f]) }
	switch m("o") {
	case "op", "od":
		o, err := decodeOfficialChange(m("b"))
		if err != nil || o.Number != phone.Number(m("n")) {
			return blocklist.Change{}, fmt.Errorf("change %s: %w", id, errBadChange)
		}
		op := blocklist.ChangeOfficialPut
		if m("o") == "od" {
			op = blocklist.ChangeOfficialDelete
		}
		return blocklist.Change{Seq: seq, Op: op, Official: &o}, nil
	}
	e, err := decodeEntry(m("id"), m("rev"), m("b"))
	if err != nil {
		return blocklist.Change{}, fmt.Errorf("change %s: %w", id, err)
	}
	op := blocklist.ChangePut
	switch m("o") {
	case "p":
	case "d":
		op = blocklist.ChangeDelete
	default:
		return blocklist.Change{}, fmt.Errorf("change %s: %w", id, errBadChange)
	}
	return blocklist.Change{Seq: seq, Op: op, Entry: e}, nil
}
