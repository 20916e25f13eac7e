package blocklist

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// An index snapshot is the Index as it lies in memory, written to a file
// beside the store when a Service closes, so that the next start reads
// some 5 bytes an entry instead of scanning the store. It says which
// change it holds: its sequence number and a digest of that change. A
// start trusts it only when the store's change log still holds that very
// change (same number, same digest: the same history up to it), then
// replays the log from there. A missing, torn (checksum), older (the log
// no longer holds its change) or foreign (another history) snapshot is
// ignored and the index is loaded from a full scan.
//
// Layout: snapMagic, then the body, then the CRC-32C of both.
//
// CVBLIX02 added the blocked layout of big tables (index_table.go): the
// number of blocks after the table's fields, and the overflow table after
// its patterns. A CVBLIX01 snapshot is ignored like any unreadable one.
const snapMagic = "CVBLIX02"

// errBadSnapshot says a snapshot cannot be read; the caller scans instead.
var errBadSnapshot = errors.New("blocklist: the index snapshot is unreadable")

// changeDigest identifies a change: it differs between two histories that
// gave the same sequence number to different changes.
func changeDigest(c Change) [32]byte {
	e := c.Entry
	var b []byte
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = append(b, byte(c.Op), byte(e.Kind), byte(e.Category), byte(e.Source), byte(e.Confidence))
	b = binary.BigEndian.AppendUint64(b, e.Rev)
	for _, t := range [...]int64{e.CreateTime.UnixMilli(), e.UpdateTime.UnixMilli(), e.ExpireTime.UnixMilli()} {
		b = binary.BigEndian.AppendUint64(b, uint64(t))
	}
	for _, s := range [...]string{e.ID, e.Pattern, e.Reason, e.CreateBy} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if o := c.Official; o != nil {
		b = append(b, byte(o.Direction))
		b = binary.BigEndian.AppendUint64(b, uint64(o.CreateTime.UnixMilli()))
		for _, s := range [...]string{o.Number.String(), o.Gen, o.DisplayName, o.Description, o.CreateBy} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return sha256.Sum256(b)
}

// writeSnapshot writes x, which holds every change up to last, to path:
// to a temporary file first, synced, then renamed over path, so that path
// holds one whole snapshot or another.
func writeSnapshot(path string, x *Index, last Change) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := encodeSnapshot(tmp, x, last); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// encodeSnapshot writes the snapshot of x, which holds every change up to
// last, to out: magic, body, checksum.
func encodeSnapshot(out io.Writer, x *Index, last Change) error {
	x.mu.Lock()
	seq, live, s := x.seq, x.live, x.snap.Load()
	x.mu.Unlock()
	if last.Seq != seq {
		return fmt.Errorf("blocklist: snapshot at %d given change %d", seq, last.Seq)
	}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	w := bufio.NewWriterSize(io.MultiWriter(out, crc), 1<<20)
	sw := snapWriter{w: w}
	sw.bytes([]byte(snapMagic))
	sw.u64(seq)
	var d [32]byte
	if seq > 0 {
		d = changeDigest(last)
	}
	sw.bytes(d[:])
	sw.u64(uint64(live))
	sw.u64(uint64(s.prefixes))
	for slot := range numSlots {
		sw.table(s.base[slot])
		sw.table(s.deltaWithRecent(slot))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := out.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

type snapWriter struct{ w *bufio.Writer }

func (s snapWriter) bytes(b []byte) { s.w.Write(b) }
func (s snapWriter) u64(v uint64)   { s.w.Write(binary.AppendUvarint(nil, v)) }

func (s snapWriter) table(t *table) {
	if t == nil {
		s.u64(0)
		return
	}
	dictMode := uint64(0)
	if t.ats != nil {
		dictMode = 1
	}
	s.u64(1)
	for _, v := range [...]uint64{uint64(t.n), uint64(t.rbits), uint64(t.kbits), uint64(t.w), uint64(t.gshift), dictMode, t.nblk} {
		s.u64(v)
	}
	s.u64(uint64(len(t.slots)))
	s.bytes(t.slots)
	runtime.KeepAlive(t) // the slots may be outside the heap
	s.u64(uint64(len(t.hi)))
	for _, v := range t.hi {
		s.u64(uint64(v))
	}
	for _, list := range [][]uint16{t.lo, t.metas} {
		s.u64(uint64(len(list)))
		for _, v := range list {
			s.u64(uint64(v))
		}
	}
	s.u64(uint64(len(t.expPos)))
	for _, v := range t.expPos {
		s.u64(uint64(v))
	}
	for _, list := range [][]int64{t.ats, t.expAt} {
		s.u64(uint64(len(list)))
		for _, v := range list {
			s.u64(uint64(v))
		}
	}
	s.u64(uint64(len(t.pats)))
	for _, p := range t.pats {
		s.u64(uint64(len(p)))
		s.w.WriteString(p)
	}
	if t.nblk != 0 {
		s.table(t.over)
	}
}

// readSnapshot reads the snapshot at path: the index it holds (not yet
// checked against the store) and the digest of its last change.
func readSnapshot(path string) (*Index, [32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, [32]byte{}, err
	}
	return decodeSnapshot(b)
}

// decodeSnapshot reads a snapshot that encodeSnapshot wrote.
func decodeSnapshot(b []byte) (*Index, [32]byte, error) {
	var digest [32]byte
	if len(b) < len(snapMagic)+4 || string(b[:len(snapMagic)]) != snapMagic {
		return nil, digest, errBadSnapshot
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return nil, digest, errBadSnapshot
	}
	r := snapReader{b: body[len(snapMagic):]}
	seq := r.u64()
	copy(digest[:], r.take(32))
	live := r.u64()
	s := &snapshot{prefixes: uint16(r.u64())}
	for slot := range numSlots {
		s.base[slot] = r.table(slot > 0)
		s.delta[slot] = r.table(slot > 0)
	}
	if r.err || len(r.b) != 0 || s.prefixes&1 != 0 {
		return nil, digest, errBadSnapshot
	}
	if s.prefixes != 0 {
		s.rebuildPrefilter()
	}
	x := &Index{seq: seq, live: int(live)}
	x.snap.Store(s)
	return x, digest, nil
}

type snapReader struct {
	b   []byte
	err bool
}

func (r *snapReader) u64() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *snapReader) take(n int) []byte {
	if r.err || n < 0 || n > len(r.b) {
		r.err = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// count reads a length of at most max.
func (r *snapReader) count(max int) int {
	n := r.u64()
	if n > uint64(max) {
		r.err = true
		return 0
	}
	return int(n)
}

func (r *snapReader) table(prefix bool) *table {
	if r.u64() == 0 || r.err {
		return nil
	}
	t := &table{}
	var dictMode uint64
	var f [7]uint64
	for i := range f {
		f[i] = r.u64()
	}
	n, rbits, kbits, w, gshift, nblk := f[0], f[1], f[2], f[3], f[4], f[6]
	dictMode = f[5]
	if r.err || n == 0 || n > 1<<32 || rbits > keyBits || w < 1 || w > 8 || rbits+kbits > 8*w || gshift > 30 || nblk > n {
		r.err = true
		return nil
	}
	t.n, t.rbits, t.kbits, t.w, t.gshift, t.nblk = int(n), uint(rbits), uint(kbits), int(w), uint(gshift), nblk
	t.wmask = ^uint64(0)
	if t.w < 8 {
		t.wmask = 1<<(8*t.w) - 1
	}
	size := t.n*t.w + 7
	if nblk != 0 {
		size = int(nblk)*blockBytes + 7
		t.bcap = min((blockBytes-1)/t.w, blockCount)
		if prefix || gshift != 0 || t.rbits != blockRemBits(nblk) {
			r.err = true
			return nil
		}
	}
	if ns := r.count(len(r.b)); ns != size {
		r.err = true
		return nil
	}
	t.allocSlots(size, offHeapMin)
	copy(t.slots, r.take(size))
	nb := 1 << (keyBits - t.rbits)
	t.hi = make([]uint32, r.count(len(r.b)))
	for i := range t.hi {
		t.hi[i] = uint32(r.u64())
	}
	t.lo = make([]uint16, r.count(len(r.b)))
	for i := range t.lo {
		t.lo[i] = uint16(r.u64())
	}
	t.metas = make([]uint16, r.count(len(r.b)))
	for i := range t.metas {
		t.metas[i] = uint16(r.u64())
	}
	t.expPos = make([]uint32, r.count(len(r.b)))
	for i := range t.expPos {
		t.expPos[i] = uint32(r.u64())
	}
	ats := make([]int64, r.count(len(r.b)))
	for i := range ats {
		ats[i] = int64(r.u64())
	}
	if dictMode == 1 {
		t.ats = ats
	}
	t.expAt = make([]int64, r.count(len(r.b)))
	for i := range t.expAt {
		t.expAt[i] = int64(r.u64())
	}
	if np := r.count(len(r.b)); np > 0 {
		t.pats = make([]string, np)
		for i := range t.pats {
			t.pats[i] = string(r.take(r.count(len(r.b))))
		}
	}
	// What a lookup indexes without checking: the directory covers every
	// bucket (blocked: every block holds at most bcap entries, and they
	// and the overflow table's, bucketed, are all of them), metadata
	// covers every dictionary index, patterns every position of a prefix
	// table.
	if len(t.metas) == 0 || len(t.metas) > 1<<t.kbits ||
		prefix != (t.pats != nil) || prefix && len(t.pats) != t.n || dictMode == 1 && len(t.ats) != len(t.metas) ||
		dictMode == 0 && len(t.expPos) != len(t.expAt) {
		r.err = true
		return nil
	}
	if t.nblk == 0 {
		if len(t.lo) != nb+1 || len(t.hi) != nb>>t.gshift+1 || t.start(uint64(nb)) != t.n {
			r.err = true
			return nil
		}
		return t
	}
	t.over = r.table(false)
	held := t.over.len()
	for b := range int(t.nblk) {
		c := int(t.slots[b*blockBytes] & blockCount)
		if c > t.bcap {
			r.err = true
			return nil
		}
		held += c
	}
	if r.err || len(t.hi) != 0 || len(t.lo) != 0 || held != t.n || t.over != nil && t.over.nblk != 0 {
		r.err = true
		return nil
	}
	return t
}

// snapshotOK reports whether the store's log still holds the change the
// snapshot ends with, the same change.
func snapshotOK(x *Index, digest [32]byte, changes []Change) bool {
	if x.seq == 0 {
		return digest == [32]byte{}
	}
	return len(changes) == 1 && changes[0].Seq == x.seq && changeDigest(changes[0]) == digest
}
