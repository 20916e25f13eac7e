package boltstore

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/callverify/callverify/blocklist"
)

// The entry layout (version 2). At 10M entries every byte of an entry is
// 10 MB of file, and bbolt adds 16 bytes of element header to every key,
// so an entry is one key in one bucket, keyed by its packed pattern, and
// its ID is found through a block of 64 IDs (blocklist_entry_ids.go).
//
// Records are encoded by hand with encoding/binary rather than as a
// protobuf message: what the index needs (kind, category, source,
// confidence, expiry) sits in a fixed header at fixed offsets, read
// without decoding the rest (ListEntries filters on it, the index load
// reads only it), which protobuf's field order does not promise; and the
// field tags would cost some 8 bytes an entry.
//
//	[0] recordV2
//	[1] flags: kind (2 bits), flagExpire, flagIDSeq, flagReasonRef, flagByRef
//	[2] category  [3] source  [4] confidence
//	expiry, Unix ms (varint), when flagExpire
//	rev (uvarint)
//	ID: its sequence number (uvarint) when flagIDSeq, else length and bytes
//	create time, Unix ms (varint); update time less create time (varint)
//	reason, then author: a dictionary reference (uvarint) when its flag
//	is set, else length and bytes
//
// Version 1 records (entryRecordV1: the pattern inside the record, IDs in
// a bucket of their own) are read only to migrate them and from an older
// change log.
const (
	recordV2      = 2
	flagKindMask  = 3
	flagExpire    = 1 << 2
	flagIDSeq     = 1 << 3
	flagReasonRef = 1 << 4
	flagByRef     = 1 << 5
	headerLen     = 5
)

// Every Kind must fit flagKindMask.
var _ = [flagKindMask + 1 - 1 - int(blocklist.KindPrefix)]struct{}{}

var errBadRecord = errors.New("corrupt blocklist entry record")

// Patterns are keyed packed: a nibble a character after the '+', '*' as 1
// and the digits as 2 to 11, 0 padding the last byte. The packing keeps
// the byte order of the strings (shorter first on a common prefix, '*'
// before the digits), so keys sort as the patterns do and ListEntries
// pages in pattern order. The longest pattern, 15 digits or 14 and a '*',
// takes 8 bytes.
const maxPackedPattern = 8

// packPattern packs a pattern; ok is false for anything that is not '+'
// and 1 to 16 characters of digits and '*'.
func packPattern(p string) (k [maxPackedPattern]byte, n int, ok bool) {
	if len(p) < 1 || len(p) > 1+2*maxPackedPattern || p[0] != '+' {
		return k, 0, false
	}
	for i := 1; i < len(p); i++ {
		v, ok := nibble(p[i])
		if !ok {
			return k, 0, false
		}
		j := i - 1
		if j%2 == 0 {
			k[j/2] = v << 4
		} else {
			k[j/2] |= v
		}
	}
	return k, len(p) / 2, true
}

func nibble(c byte) (byte, bool) {
	switch {
	case c == '*':
		return 1, true
	case c >= '0' && c <= '9':
		return c - '0' + 2, true
	}
	return 0, false
}

// patternKey is packPattern as a bbolt key, nil when p cannot be one.
func patternKeyOf(p string) []byte {
	k, n, ok := packPattern(p)
	if !ok || n == 0 {
		return nil
	}
	return k[:n]
}

// unpackPattern is the inverse of packPattern.
func unpackPattern(k []byte) (string, error) {
	var buf [1 + 2*maxPackedPattern]byte
	n, ok := unpackPatternInto(&buf, k)
	if !ok {
		return "", errBadRecord
	}
	return string(buf[:n]), nil
}

// unpackPatternInto unpacks k into buf and returns the pattern's length.
func unpackPatternInto(buf *[1 + 2*maxPackedPattern]byte, k []byte) (int, bool) {
	if len(k) == 0 || len(k) > maxPackedPattern {
		return 0, false
	}
	buf[0] = '+'
	n := 1
	for i, b := range k {
		for j, v := range [2]byte{b >> 4, b & 15} {
			switch {
			case v == 0 && j == 1 && i == len(k)-1:
				return n, true
			case v == 1:
				buf[n] = '*'
			case v >= 2 && v <= 11:
				buf[n] = '0' + v - 2
			default:
				return 0, false
			}
			n++
		}
	}
	return n, true
}

// idSeq returns the sequence number of an ID this store issued: 16
// lowercase hex digits of a big-endian uint64.
func idSeq(id string) (uint64, bool) {
	if len(id) != 16 {
		return 0, false
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], []byte(id)); err != nil {
		return 0, false
	}
	n := binary.BigEndian.Uint64(b[:])
	if n == 0 || idString(n) != id {
		return 0, false
	}
	return n, true
}

func idString(n uint64) string { return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, n)) }

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// strRef is how a record holds a string: by dictionary id when ref, else
// inline.
type strRef struct {
	ref bool
	id  uint64
	s   string
}

// encodeRecord encodes e, its reason and author as given.
func encodeRecord(e blocklist.Entry, reason, by strRef) []byte {
	return appendRecord(make([]byte, 0, 40+len(reason.s)+len(by.s)), e, reason, by)
}

// appendRecord appends encodeRecord's encoding of e to b.
func appendRecord(b []byte, e blocklist.Entry, reason, by strRef) []byte {
	h := len(b)
	b = append(b, make([]byte, headerLen)...)
	flags := byte(e.Kind) & flagKindMask
	if !e.ExpireTime.IsZero() {
		flags |= flagExpire
	}
	seq, seqID := idSeq(e.ID)
	if seqID {
		flags |= flagIDSeq
	}
	if reason.ref {
		flags |= flagReasonRef
	}
	if by.ref {
		flags |= flagByRef
	}
	b[h], b[h+1], b[h+2], b[h+3], b[h+4] = recordV2, flags, byte(e.Category), byte(e.Source), byte(e.Confidence)
	if !e.ExpireTime.IsZero() {
		b = binary.AppendVarint(b, e.ExpireTime.UnixMilli())
	}
	b = binary.AppendUvarint(b, e.Rev)
	if seqID {
		b = binary.AppendUvarint(b, seq)
	} else {
		b = appendString(b, e.ID)
	}
	ct := millis(e.CreateTime)
	b = binary.AppendVarint(b, ct)
	b = binary.AppendVarint(b, millis(e.UpdateTime)-ct)
	for _, s := range []strRef{reason, by} {
		if s.ref {
			b = binary.AppendUvarint(b, s.id)
		} else {
			b = appendString(b, s.s)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordReader reads a record's fields in order.
type recordReader struct {
	b   []byte
	err bool
}

func (r *recordReader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *recordReader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if r.err || uint64(len(r.b)) < n {
		r.err = true
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// decodeIndexFields decodes what the index holds from a version 2 record:
// kind, category, source, confidence and expiry. It reads the header
// and, for an entry that expires, one varint.
func decodeIndexFields(v []byte, e *blocklist.Entry) bool {
	if len(v) < headerLen || v[0] != recordV2 {
		return false
	}
	e.Kind, e.Category, e.Source, e.Confidence = blocklist.Kind(v[1]&flagKindMask), blocklist.Category(v[2]), blocklist.Source(v[3]), int(v[4])
	e.ExpireTime = time.Time{}
	if v[1]&flagExpire != 0 {
		ms, k := binary.Varint(v[headerLen:])
		if k <= 0 {
			return false
		}
		e.ExpireTime = time.UnixMilli(ms).UTC()
	}
	return true
}

// decodeRecord decodes a version 2 record of pattern; lookup resolves the
// dictionary references.
func decodeRecord(pattern string, v []byte, lookup func(id uint64) (string, error)) (blocklist.Entry, error) {
	e := blocklist.Entry{Pattern: pattern}
	if !decodeIndexFields(v, &e) {
		return blocklist.Entry{}, errBadRecord
	}
	flags := v[1]
	r := recordReader{b: v[headerLen:]}
	if flags&flagExpire != 0 {
		r.varint()
	}
	e.Rev = r.uvarint()
	if flags&flagIDSeq != 0 {
		if n := r.uvarint(); !r.err {
			e.ID = idString(n)
		}
	} else {
		e.ID = string(r.bytes())
	}
	ct := r.varint()
	e.CreateTime, e.UpdateTime = fromMillis(ct), fromMillis(ct+r.varint())
	var strs [2]string
	for i, ref := range [2]bool{flags&flagReasonRef != 0, flags&flagByRef != 0} {
		if !ref {
			strs[i] = string(r.bytes())
			continue
		}
		id := r.uvarint()
		if r.err {
			break
		}
		s, err := lookup(id)
		if err != nil {
			return blocklist.Entry{}, err
		}
		strs[i] = s
	}
	if r.err || len(r.b) != 0 {
		return blocklist.Entry{}, errBadRecord
	}
	e.Reason, e.CreateBy = strs[0], strs[1]
	return e, nil
}

// entryRecordV1 is the first record version: the whole entry, pattern and
// ID included, behind a fixed header of kind, category, source and
// confidence. Stores and change logs written before version 2 hold it.
const entryRecordV1 = 1

func decodeEntryV1(b []byte) (blocklist.Entry, error) {
	if len(b) < 5 || b[0] != entryRecordV1 {
		return blocklist.Entry{}, errBadRecord
	}
	e := blocklist.Entry{
		Kind: blocklist.Kind(b[1]), Category: blocklist.Category(b[2]),
		Source: blocklist.Source(b[3]), Confidence: int(b[4]),
	}
	r := recordReader{b: b[5:]}
	var strs [4]string
	for i := range strs {
		strs[i] = string(r.bytes())
	}
	e.ID, e.Pattern, e.Reason, e.CreateBy = strs[0], strs[1], strs[2], strs[3]
	e.CreateTime, e.UpdateTime, e.ExpireTime = fromMillis(r.varint()), fromMillis(r.varint()), fromMillis(r.varint())
	e.Rev = r.uvarint()
	if r.err {
		return blocklist.Entry{}, errBadRecord
	}
	return e, nil
}

// A change is logged as its op byte, then changeV2, the packed pattern
// (length and bytes) and the entry's version 2 record with its strings
// inline (the log is read without the dictionary). An older log holds the
// op byte and a version 1 record.
const changeV2 = 2

// An official number's change is its op byte, then changeOfficialV1 and the
// number's record as the official bucket stores it (JSON).
const changeOfficialV1 = 0x10

// A transaction that logs more than one change logs them as one run: a
// record under the first change's sequence whose value is changeRun, the
// number of changes and each change (its length, then appendChange's
// encoding); the changes' sequences follow one another. A bulk import's
// tens of thousands of changes are thus one value written once, not as
// many keys put in the log's tree and later deleted from it one by one.
// (No change starts with changeRun: it is no ChangeOp.)
const changeRun = 0

// appendChange appends c's encoding (changeV2 or changeOfficialV1) to b.
func appendChange(b []byte, c blocklist.Change) []byte {
	if c.Official != nil {
		o := c.Official
		v, err := json.Marshal(officialRecord{
			Number: o.Number.String(), DisplayName: o.DisplayName, Direction: int(o.Direction),
			Description: o.Description, CreateBy: o.CreateBy, CreateTime: o.CreateTime, Gen: o.Gen,
		})
		if err != nil {
			panic(err) // strings, ints and a time always marshal
		}
		return append(append(b, byte(c.Op), changeOfficialV1), v...)
	}
	k, n, ok := packPattern(c.Entry.Pattern)
	if !ok {
		n = 0
	}
	b = append(append(b, byte(c.Op), changeV2, byte(n)), k[:n]...)
	return appendRecord(b, c.Entry, strRef{s: c.Entry.Reason}, strRef{s: c.Entry.CreateBy})
}

// changeRecord is a record of the change log: one change, or a run.
type changeRecord struct {
	first uint64 // the sequence of its first change
	n     uint64 // how many changes it holds
	run   bool   // v holds a run's changes, not a single change's encoding
	v     []byte
}

// readChangeRecord reads the log's record (k, v) without decoding its
// changes.
func readChangeRecord(k, v []byte) (changeRecord, error) {
	if len(k) != 8 || len(v) == 0 {
		return changeRecord{}, errBadRecord
	}
	r := changeRecord{first: binary.BigEndian.Uint64(k), n: 1, v: v}
	if v[0] != changeRun {
		return r, nil
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n == 0 || n > uint64(len(v)) { // a change takes 3 bytes at least
		return changeRecord{}, errBadRecord
	}
	r.n, r.run, r.v = n, true, v[1+w:]
	return r, nil
}

// last is the sequence of the record's last change.
func (r changeRecord) last() uint64 { return r.first + r.n - 1 }

// changes decodes the record's changes from the sequence from on, at most
// limit of them, and appends them to out.
func (r changeRecord) changes(out []blocklist.Change, from uint64, limit int) ([]blocklist.Change, error) {
	if !r.run {
		if r.first < from || limit <= 0 {
			return out, nil
		}
		c, err := decodeChange(r.first, r.v)
		return append(out, c), err
	}
	b := r.v
	for seq := r.first; seq <= r.last() && limit > 0; seq++ {
		l, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < l {
			return out, errBadRecord
		}
		var c []byte
		c, b = b[w:w+int(l)], b[w+int(l):]
		if seq < from {
			continue
		}
		ch, err := decodeChange(seq, c)
		if err != nil {
			return out, err
		}
		out = append(out, ch)
		limit--
		if seq == r.last() && len(b) > 0 {
			return out, errBadRecord // more than the run says it holds
		}
	}
	return out, nil
}

// decodeChange decodes the change numbered seq from its encoding v.
func decodeChange(seq uint64, v []byte) (blocklist.Change, error) {
	if len(v) < 2 {
		return blocklist.Change{}, errBadRecord
	}
	c := blocklist.Change{Seq: seq, Op: blocklist.ChangeOp(v[0])}
	var err error
	switch v[1] {
	case changeOfficialV1:
		if !c.Op.Official() {
			return blocklist.Change{}, errBadRecord
		}
		o, err := decodeOfficial(v[2:])
		if err != nil {
			return blocklist.Change{}, err
		}
		c.Official = &o
		return c, nil
	case entryRecordV1:
		c.Entry, err = decodeEntryV1(v[1:])
	case changeV2:
		if len(v) < 3 || len(v) < 3+int(v[2]) {
			return blocklist.Change{}, errBadRecord
		}
		var p string
		if p, err = unpackPattern(v[3 : 3+int(v[2])]); err == nil {
			c.Entry, err = decodeRecord(p, v[3+int(v[2]):], func(uint64) (string, error) { return "", errBadRecord })
		}
	default:
		err = errBadRecord
	}
	return c, err
}
