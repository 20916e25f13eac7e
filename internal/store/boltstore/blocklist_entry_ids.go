package boltstore

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// An entry's ID is the hex of a sequence number (idString), issued by the
// bIDBlocks bucket's sequence. Finding an entry by ID needs its pattern;
// a bucket of ID -> pattern would cost a bbolt element (16 bytes of header
// and both keys) for every entry, so the patterns of 64 consecutive IDs
// share one: key idBlock(seq), value the 8-byte packed pattern of each ID
// in the block in order, zero for none, the value cut after the last one
// set. IDs are issued in order, so blocks fill up one after the other and
// the bucket is append-mostly (filled to the page).
var (
	bIDBlocks    = []byte("blocklist/entry_id_blocks")
	bStrings     = []byte("blocklist/strings")    // string -> dictionary id
	bStringsByID = []byte("blocklist/string_ids") // big-endian id -> string
)

const (
	idBlockBits = 6
	idBlockLen  = 1 << idBlockBits
)

// Every packed pattern must fit an ID block's slot.
var _ = [8 - maxPackedPattern]struct{}{}

func idBlockKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq>>idBlockBits) }

// idBlocks is one transaction's pending changes to ID blocks, written by
// flush: an import touches a block many times and bbolt would copy the
// value at every Put.
type idBlocks struct {
	b       *bolt.Bucket
	pending map[uint64][]byte // block number -> value
}

func (x *idBlocks) block(seq uint64) []byte {
	n := seq >> idBlockBits
	if v, ok := x.pending[n]; ok {
		return v
	}
	return x.b.Get(idBlockKey(seq))
}

// pattern returns the packed pattern (bbolt key) of ID seq, nil when none.
func (x *idBlocks) pattern(seq uint64) []byte {
	v := x.block(seq)
	i := int(seq&(idBlockLen-1)) * 8
	if i+8 > len(v) {
		return nil
	}
	k := v[i : i+8]
	n := 8
	for n > 0 && k[n-1] == 0 {
		n--
	}
	if n == 0 {
		return nil
	}
	return k[:n:n]
}

// set points ID seq at the packed pattern key (nil: at nothing). A block
// already pending is changed in place (it is this transaction's own until
// flush hands it to bbolt): an import sets every ID of a block in turn.
func (x *idBlocks) set(seq uint64, key []byte) {
	n := seq >> idBlockBits
	v, owned := x.pending[n]
	if !owned {
		old := x.b.Get(idBlockKey(seq))
		v = make([]byte, len(old), max(len(old), idBlockLen*8))
		copy(v, old)
	}
	i := int(seq&(idBlockLen-1)) * 8
	if l := len(v); l < i+8 {
		v = v[:i+8]
		clear(v[l:]) // only zero slots are cut, but the bytes past len are not ours to trust
	}
	clear(v[i : i+8])
	copy(v[i:], key)
	for len(v) >= 8 && allZero(v[len(v)-8:]) {
		v = v[:len(v)-8]
	}
	if x.pending == nil {
		x.pending = map[uint64][]byte{}
	}
	x.pending[n] = v
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (x *idBlocks) flush() error {
	x.b.FillPercent = 1 // blocks are appended in key order
	for n, v := range x.pending {
		k := binary.BigEndian.AppendUint64(nil, n)
		var err error
		if len(v) == 0 {
			err = x.b.Delete(k)
		} else {
			err = x.b.Put(k, v)
		}
		if err != nil {
			return fmt.Errorf("entry id block %d: %w", n, err)
		}
	}
	clear(x.pending)
	return nil
}

// The string dictionary holds the reasons and authors that imports
// repeat on every row, so that a record refers to them in a byte or two.
// It only grows, and is capped: past maxDictStrings the strings are stored
// inline, so a list of unique reasons cannot grow it without bound.
const maxDictStrings = 1 << 16

// dict is one transaction's view of the dictionary, with a cache.
type dict struct {
	strs, byID *bolt.Bucket
	ids        map[string]uint64
	names      map[uint64]string
}

// ref returns how a record holds s: a reference when s is in the
// dictionary or may be added, inline otherwise (and always for "").
func (d *dict) ref(s string) (strRef, error) {
	if s == "" {
		return strRef{}, nil
	}
	if id, ok := d.ids[s]; ok {
		return strRef{ref: true, id: id}, nil
	}
	if v := d.strs.Get([]byte(s)); v != nil {
		id, k := binary.Uvarint(v)
		if k <= 0 {
			return strRef{}, fmt.Errorf("string dictionary entry %q: %w", s, errBadRecord)
		}
		d.cache(s, id)
		return strRef{ref: true, id: id}, nil
	}
	if d.strs.Sequence() >= maxDictStrings || !d.strs.Writable() {
		return strRef{s: s}, nil
	}
	id, err := d.strs.NextSequence()
	if err != nil {
		return strRef{}, err
	}
	if err := d.strs.Put([]byte(s), binary.AppendUvarint(nil, id)); err != nil {
		return strRef{}, err
	}
	if err := d.byID.Put(binary.BigEndian.AppendUint64(nil, id), []byte(s)); err != nil {
		return strRef{}, err
	}
	d.cache(s, id)
	return strRef{ref: true, id: id}, nil
}

func (d *dict) cache(s string, id uint64) {
	if d.ids == nil {
		d.ids, d.names = map[string]uint64{}, map[uint64]string{}
	}
	d.ids[s], d.names[id] = id, s
}

// lookup returns the string with dictionary id id.
func (d *dict) lookup(id uint64) (string, error) {
	if s, ok := d.names[id]; ok {
		return s, nil
	}
	v := d.byID.Get(binary.BigEndian.AppendUint64(nil, id))
	if v == nil {
		return "", fmt.Errorf("string dictionary id %d: %w", id, errBadRecord)
	}
	s := string(v)
	d.cache(s, id)
	return s, nil
}
