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
)

// indexPatternsScript answers {'ok', seq, n, patterns}: the change sequence
// and up to ARGV[4] patterns after ARGV[3] (exclusive; empty from the
// start) in {P:dir}:entries, n of them, joined by newlines (a pattern is
// '+', digits and perhaps '*'): one string, not n.
var indexPatternsScript = script(`
local from = '-'
if ARGV[3] ~= '' then from = '(' .. ARGV[3] end
local ps = redis.call('ZRANGEBYLEX', k('entries'), from, '+', 'LIMIT', 0, tonumber(ARGV[4]))
return {'ok', seq_now(), #ps, table.concat(ps, '\n')}
`)

// indexFieldsScript reads, for each of its keys (entries e:<pattern>), what
// the matching index holds, and answers {'ok', lines}: one line a key, in
// order, "c s f x" (category, source, confidence, expiry in Unix ms, 0 for
// never) or "-" for an entry gone since its pattern was listed. The
// confidence is only in the entry's JSON body: the first "f": there is the
// body's own field, since inside a JSON string a quote is escaped and
// "f": cannot appear.
var indexFieldsScript = script(`
local out = {}
for i, key in ipairs(KEYS) do
  local e = redis.call('HMGET', key, 'c', 's', 'x', 'b')
  if e[1] and e[2] then
    out[i] = e[1] .. ' ' .. e[2] .. ' ' .. (string.match(e[4] or '', '"f":(%d+)') or '0') .. ' ' .. (e[3] or '0')
  else
    out[i] = '-'
  end
end
return {'ok', table.concat(out, '\n')}
`)

// indexScanPage is how many entries one script of ScanIndexEntries reads:
// a few milliseconds of Redis's time, during which it serves nobody else.
const indexScanPage = 4096

var _ blocklist.IndexScanner = (*BlocklistStore)(nil)

// ScanIndexEntries implements blocklist.IndexScanner: ScanEntries (the
// same sequence, the same pages while writes go on, the same replay
// argument) reading only the index's fields of each entry, in pages of
// indexScanPage, with no JSON decoding and a handful of allocations a
// page. Each round trip is one pipeline carrying the fields of page k and
// the patterns of page k+1 (which start after k's last pattern, known from
// the previous round trip), so the scan costs one round trip a page. Every
// script declares the keys it reads, as everywhere (docs/redis.md).
func (s *BlocklistStore) ScanIndexEntries(ctx context.Context, fn func(blocklist.Entry) error) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.loadScripts(ctx, indexPatternsScript, indexFieldsScript); err != nil {
		return 0, err
	}
	// The sequence comes from the first page's script, before any entry
	// is read: see ScanEntries for why replaying from it converges.
	pats, err := s.pipeIndexPage(ctx, nil, "")
	if err != nil {
		return 0, err
	}
	seq := pats.seq
	for len(pats.list) > 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var next string
		if len(pats.list) == indexScanPage {
			next = pats.list[len(pats.list)-1]
		}
		cur := pats.list
		var fields string
		nextPats, err := s.pipeIndexPage(ctx, &fields, next, cur...)
		if err != nil {
			return 0, err
		}
		if err := emitIndexPage(cur, fields, fn); err != nil {
			return 0, err
		}
		if next == "" {
			break
		}
		pats = nextPats
	}
	return seq, nil
}

// patternPage is one page of patterns and the sequence read with it.
type patternPage struct {
	seq  uint64
	list []string
}

// pipeIndexPage sends, in one pipeline, the fields script for the
// patterns fieldsOf (when any; its answer goes to *fields) and, unless
// after is "" while fieldsOf is not empty (the last page), the patterns
// script for the page after after.
func (s *BlocklistStore) pipeIndexPage(ctx context.Context, fields *string, after string, fieldsOf ...string) (patternPage, error) {
	wantPats := len(fieldsOf) == 0 || after != ""
	pipe := s.rdb.Pipeline()
	var fcmd, pcmd *redis.Cmd
	if len(fieldsOf) > 0 {
		keys := make([]string, len(fieldsOf))
		for i, p := range fieldsOf {
			keys[i] = dirKey(s.tag, "e:"+p)
		}
		fcmd = indexFieldsScript.EvalSha(ctx, pipe, keys, s.argvBase...)
	}
	if wantPats {
		pcmd = indexPatternsScript.EvalSha(ctx, pipe, s.keys("seq", "entries").keys, append(s.argvBase[:len(s.argvBase):len(s.argvBase)], after, indexScanPage)...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return patternPage{}, redisErr(ctx, "blocklist index scan", err)
	}
	if fcmd != nil {
		reply, err := scriptReply(ctx, fcmd, 2)
		if err != nil {
			return patternPage{}, err
		}
		*fields = str(reply[1])
	}
	if pcmd == nil {
		return patternPage{}, nil
	}
	reply, err := scriptReply(ctx, pcmd, 4)
	if err != nil {
		return patternPage{}, err
	}
	seq, err := strconv.ParseUint(str(reply[1]), 10, 64)
	if err != nil {
		return patternPage{}, fault.Unavailable(fmt.Errorf("blocklist sequence %q: %w", str(reply[1]), err))
	}
	p := patternPage{seq: seq}
	if n := num(reply[2]); n > 0 {
		p.list = strings.SplitN(str(reply[3]), "\n", int(n))
		if int64(len(p.list)) != n {
			return patternPage{}, fault.Unavailable(fmt.Errorf("blocklist index scan: %d patterns said, %d given", n, len(p.list)))
		}
	}
	return p, nil
}

// scriptReply is cmd's list answer, at least n long and starting "ok".
func scriptReply(ctx context.Context, cmd *redis.Cmd, n int) ([]any, error) {
	v, err := cmd.Result()
	if err != nil {
		return nil, redisErr(ctx, "blocklist index scan", err)
	}
	out, ok := v.([]any)
	if !ok || len(out) < n || str(out[0]) != "ok" {
		return nil, fault.Unavailable(fmt.Errorf("blocklist index scan: script answered %v", v))
	}
	return out, nil
}

// loadScripts makes sure Redis knows scs, so that a pipeline may send
// EVALSHA (which cannot fall back to EVAL inside a pipeline). On a cluster
// go-redis loads them on every master.
func (s *BlocklistStore) loadScripts(ctx context.Context, scs ...*redis.Script) error {
	for _, sc := range scs {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return redisErr(ctx, "load a blocklist script", err)
		}
	}
	return nil
}

var errBadIndexLine = errors.New("corrupt blocklist entry fields")

// emitIndexPage hands fn the entries of patterns, whose fields are lines
// (indexFieldsScript's answer), skipping the ones gone.
func emitIndexPage(patterns []string, lines string, fn func(blocklist.Entry) error) error {
	for i, p := range patterns {
		line, rest, ok := strings.Cut(lines, "\n")
		if !ok && i != len(patterns)-1 {
			return fault.Unavailable(fmt.Errorf("blocklist index scan: %d lines for %d patterns", i+1, len(patterns)))
		}
		lines = rest
		if line == "-" {
			continue
		}
		var f [4]int64
		for j := range f {
			var field string
			if j < 3 {
				field, line, ok = strings.Cut(line, " ")
			} else {
				field, ok = line, true
			}
			v, err := strconv.ParseInt(field, 10, 64)
			if !ok || err != nil {
				return fault.Unavailable(fmt.Errorf("blocklist entry %s: %w", p, errBadIndexLine))
			}
			f[j] = v
		}
		e := blocklist.Entry{
			Pattern: p, Kind: blocklist.KindExact, Category: blocklist.Category(f[0]), Source: blocklist.Source(f[1]),
			Confidence: int(f[2]), ExpireTime: fromMillis(f[3]),
		}
		if strings.HasSuffix(p, "*") {
			e.Kind = blocklist.KindPrefix
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
