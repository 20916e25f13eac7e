package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
)

var bOfficial = []byte("blocklist/official")

// BlocklistStore is blocklist.Store on bbolt.
type BlocklistStore struct {
	db         *bolt.DB
	commit     *committer // reports are grouped with concurrent ones
	pseudonyms hmackeys.Ring
	retain     int
	importTx   int64        // pages an import's transaction may dirty before it commits; 0: importBudget
	calls      *VerifyStore // wakes the watchers of the calls a deleted line ends; may be nil
}

var _ blocklist.Store = (*BlocklistStore)(nil)

// BlocklistOptions configure a BlocklistStore.
type BlocklistOptions struct {
	// PseudonymKey keys the HMAC that turns a reporting customer's number
	// into the pseudonym the store keeps (at least 32 bytes, secret, and
	// stable: a new key makes every customer a new reporter). internal/app
	// derives it from the key-encryption key.
	PseudonymKey []byte
	// ChangeLogRetain is how many of the latest entry changes the change
	// log keeps at least (DefaultChangeLogRetain when zero); it keeps a
	// transaction's changes whole, so up to one transaction's more. A
	// follower further behind than that reloads from a full scan, so it
	// bounds the log, not correctness: at some 50 to 100 bytes a change
	// the default costs 5 to 16 MB and covers an import of 100,000 rows.
	ChangeLogRetain int

	// PseudonymKeys, when it has keys, replaces PseudonymKey with a ring:
	// the first key writes, and a reporter's pseudonym under any of them is
	// the same reporter, so that the key can rotate (see reporterKeys).
	PseudonymKeys hmackeys.Ring

	// Calls, the calls store of the same file, wakes the customers'
	// watchers of the calls that deleting an official number ends (their
	// ENDED events are written either way).
	Calls *VerifyStore

	// ImportTxPages bounds the pages a transaction of ImportEntryBatches
	// dirties: once its batches have dirtied that many, the next batches
	// go in another transaction. When zero, DefaultImportTxPages, or half
	// as many once the store holds LargeStore entries (importBudget).
	ImportTxPages int
}

// DefaultImportTxPages is the default ImportTxPages: about 64 MiB of 4 KiB
// pages. It counts the tree pages the batches change (bbolt's node count),
// not the change-log run and audit events the transaction appends besides
// (a few MB).
//
// A transaction writes a new copy of every page it dirties, and the copies
// it replaces are free only once it commits, so the file must hold the
// store and one transaction's pages besides; and bbolt never gives a page
// back to the file system. Rows scattered over a large store dirty nearly
// a page each: after a 10M-entry import in groups of 64,000 rows, 250 MB
// of the 1147 MB file were free pages (a test program outside the
// repository). Below some 16,000 pages (the entry tree of about a
// million entries) a group commits in one transaction, as before.
const DefaultImportTxPages = 16384

// LargeStore is the number of entries from which the default page budget
// is halved. A bbolt reader that began before a transaction committed
// keeps the pages it replaced from being reused (the index follower reads
// the change log during an import), so the file may keep two
// transactions' pages, not one. In a store this large a transaction's
// scattered rows already dirty about a page each (reckoned from the
// leaves, some 61,000 at 4M entries: the default budget holds some 18,600
// rows, half of it some 8,500, 9% more page writes a row; the harness's
// 10M import measured 33k rows/s with the full budget and 31k with half),
// while in a store of a million entries a group's 64,000 rows share its
// 15,500 leaves and the half budget halved the import (BenchmarkImport).
const LargeStore = 4_000_000

// importBudget is the page budget of an import's next transaction in a
// store of entries entries.
func (s *BlocklistStore) importBudget(entries int64) int64 {
	switch {
	case s.importTx > 0:
		return s.importTx
	case entries >= LargeStore:
		return DefaultImportTxPages / 2
	}
	return DefaultImportTxPages
}

// DefaultChangeLogRetain is the change log's default retention.
const DefaultChangeLogRetain = 100_000

// MinPseudonymKey is the shortest PseudonymKey a store accepts.
const MinPseudonymKey = 32

// NewBlocklistStore creates the buckets it needs in db.
func NewBlocklistStore(db *bolt.DB, opt BlocklistOptions) (*BlocklistStore, error) {
	ring := opt.PseudonymKeys
	if ring.Len() == 0 {
		if len(opt.PseudonymKey) < MinPseudonymKey {
			return nil, fmt.Errorf("blocklist store: the pseudonym key has %d bytes, want at least %d", len(opt.PseudonymKey), MinPseudonymKey)
		}
		var err error
		if ring, err = hmackeys.New(opt.PseudonymKey); err != nil {
			return nil, fmt.Errorf("blocklist store: %w", err)
		}
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bOfficial, bEntries, bIDBlocks, bStrings, bStringsByID, bEntryCounts, bChanges,
			bReports, bReportRank, bReporters, bReportLog, bReporterDays} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := migrateEntriesV1(tx); err != nil {
			return err
		}
		return initReportRetention(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("create blocklist buckets: %w", err)
	}
	if opt.ChangeLogRetain < 0 {
		return nil, fmt.Errorf("blocklist store: ChangeLogRetain %d is negative", opt.ChangeLogRetain)
	}
	if opt.ChangeLogRetain == 0 {
		opt.ChangeLogRetain = DefaultChangeLogRetain
	}
	if opt.ImportTxPages < 0 {
		return nil, fmt.Errorf("blocklist store: ImportTxPages %d is negative", opt.ImportTxPages)
	}
	return &BlocklistStore{db: db, commit: newCommitter(db), pseudonyms: ring, retain: opt.ChangeLogRetain,
		importTx: int64(opt.ImportTxPages), calls: opt.Calls}, nil
}

type officialRecord struct {
	Number      string    `json:"number"`
	DisplayName string    `json:"display_name"`
	Direction   int       `json:"direction"`
	Description string    `json:"description,omitempty"`
	CreateBy    string    `json:"create_by,omitempty"`
	CreateTime  time.Time `json:"create_time"`
	// Gen is new (random) at every create; a call stores the Gen of its
	// caller's record and verifies only while the record has it. Records
	// written before it existed have none ("": unknown).
	Gen string `json:"gen,omitempty"`
}

// officialToRecord is o as stored, with a new generation.
func officialToRecord(o blocklist.OfficialNumber) officialRecord {
	return officialRecord{
		Number: o.Number.String(), DisplayName: o.DisplayName, Direction: int(o.Direction),
		Description: o.Description, CreateBy: o.CreateBy, CreateTime: o.CreateTime, Gen: newGen(),
	}
}

// newGen is a new generation of an official record: 128 random bits.
func newGen() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func (r officialRecord) official() blocklist.OfficialNumber {
	return blocklist.OfficialNumber{
		Number: phone.Number(r.Number), DisplayName: r.DisplayName, Direction: blocklist.Direction(r.Direction),
		Description: r.Description, CreateBy: r.CreateBy, CreateTime: r.CreateTime, Gen: r.Gen,
	}
}

func decodeOfficial(v []byte) (blocklist.OfficialNumber, error) {
	if o, ok := decodedOfficials.get(v); ok {
		return o, nil
	}
	var r officialRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return blocklist.OfficialNumber{}, fmt.Errorf("decode official number: %w", err)
	}
	o := r.official()
	decodedOfficials.put(v, o)
	return o, nil
}

// decodedOfficials remembers official records decoded, by their stored
// bytes. Every check reads its caller's record in the store, and a
// platform calls from a few lines, so the same few records were decoded
// from JSON again and again (4% of BenchmarkHotPaths/CheckCaller's CPU).
// The bytes are the record (each write stores a new generation in it), so
// what is remembered for them is what decoding them gives: the store is
// still read every time, only the decoding is spared.
var decodedOfficials = officialDecodings{m: map[string]blocklist.OfficialNumber{}}

// maxDecodedOfficials bounds decodedOfficials: when full it is emptied.
const maxDecodedOfficials = 1024

type officialDecodings struct {
	mu sync.RWMutex
	m  map[string]blocklist.OfficialNumber
}

func (d *officialDecodings) get(v []byte) (blocklist.OfficialNumber, bool) {
	d.mu.RLock()
	o, ok := d.m[string(v)]
	d.mu.RUnlock()
	return o, ok
}

func (d *officialDecodings) put(v []byte, o blocklist.OfficialNumber) {
	d.mu.Lock()
	if len(d.m) >= maxDecodedOfficials {
		clear(d.m)
	}
	d.m[string(v)] = o
	d.mu.Unlock()
}

// CreateOfficialNumber implements blocklist.Store: the number, its event
// and its change are one transaction.
func (s *BlocklistStore) CreateOfficialNumber(ctx context.Context, o blocklist.OfficialNumber, now time.Time, ev audit.Event) (blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Change{}, err
	}
	rec := officialToRecord(o)
	v, err := json.Marshal(rec)
	if err != nil {
		return blocklist.Change{}, err
	}
	stored := rec.official()
	var c blocklist.Change
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bOfficial)
		k := []byte(o.Number.String())
		if b.Get(k) != nil {
			return fault.ErrAlreadyExists
		}
		if err := blConflictWithOfficial(tx, o.Number, now); err != nil {
			return err
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
		var err error
		if c, err = s.logOfficial(tx, blocklist.ChangeOfficialPut, stored); err != nil {
			return err
		}
		_, err = appendAudit(tx, ev)
		return err
	})
	if err != nil {
		return blocklist.Change{}, storeErr(err)
	}
	return c, nil
}

// logOfficial appends an official number's change to the blocklist's
// change log, numbered by the same counter as the entries' changes.
func (s *BlocklistStore) logOfficial(tx *bolt.Tx, op blocklist.ChangeOp, o blocklist.OfficialNumber) (blocklist.Change, error) {
	t := s.entryTx(tx)
	seq, err := t.entries.NextSequence()
	if err != nil {
		return blocklist.Change{}, err
	}
	c := blocklist.Change{Seq: seq, Op: op, Official: &o}
	if err := t.logChange(c); err != nil {
		return blocklist.Change{}, err
	}
	return c, t.writeLog()
}

// GetOfficialNumber implements blocklist.Store.
func (s *BlocklistStore) GetOfficialNumber(ctx context.Context, n phone.Number) (blocklist.OfficialNumber, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.OfficialNumber{}, err
	}
	var o blocklist.OfficialNumber
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bOfficial).Get([]byte(n.String()))
		if v == nil {
			return fault.ErrNotFound
		}
		var err error
		o, err = decodeOfficial(v)
		return err
	})
	return o, storeErr(err)
}

// ListOfficialNumbers implements blocklist.Store.
func (s *BlocklistStore) ListOfficialNumbers(ctx context.Context, after string, limit int) ([]blocklist.OfficialNumber, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []blocklist.OfficialNumber
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bOfficial).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && bytes.Equal(k, []byte(after)) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			o, err := decodeOfficial(v)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, storeErr(err)
}

// DeleteOfficialNumber implements blocklist.Store. This backend keeps the
// calls too (VerifyStore, same file): the number's live calls end, and the
// event is appended, in the transaction that deletes it.
func (s *BlocklistStore) DeleteOfficialNumber(ctx context.Context, n phone.Number, now time.Time, ev audit.Event) (blocklist.OfficialNumber, int, blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.OfficialNumber{}, 0, blocklist.Change{}, err
	}
	var (
		o     blocklist.OfficialNumber
		ended int
		c     blocklist.Change
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bOfficial)
		k := []byte(n.String())
		v := b.Get(k)
		if v == nil {
			return fault.ErrNotFound
		}
		var err error
		if o, err = decodeOfficial(v); err != nil {
			return err
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		if ended, err = vEndCallsFrom(tx, n, now, s.calls.notifier()); err != nil {
			return err
		}
		if c, err = s.logOfficial(tx, blocklist.ChangeOfficialDelete, o); err != nil {
			return err
		}
		ev.Before = o.Snapshot()
		_, err = appendAudit(tx, withCount(ev, "ended_calls", ended))
		return err
	})
	if err != nil {
		return blocklist.OfficialNumber{}, 0, blocklist.Change{}, storeErr(err)
	}
	return o, ended, c, nil
}
