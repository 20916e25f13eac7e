package boltstore

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/notify"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Buckets of the calls domain.
var (
	vbCalls    = []byte("verify/calls")           // call id -> vCall
	vbByCallee = []byte("verify/calls_by_callee") // customer key 0x00 expire(8) call id -> ""
	vbByCaller = []byte("verify/calls_by_caller") // E.164 caller 0x00 expire(8) call id -> "", live calls only
	vbByExpiry = []byte("verify/calls_by_expiry") // expire(8) call id -> "", every call, for PruneCalls
	vbDevices  = []byte("verify/devices")         // customer key 0x00 device id -> vDevice
	vbPrefs    = []byte("verify/preferences")     // customer key -> vPrefs
	vbKeys     = []byte("verify/signing_keys")    // kid -> vKey
	vbMeta     = []byte("verify/meta")            // vCurrentKey -> kid
)

var vCurrentKey = []byte("current_signing_key")

// vCustomerKey is the one place where a customer's identity becomes a store
// key. Today it is the E.164 number; HMAC'ing it (with a list of keys so
// they can rotate) changes only this function.
func vCustomerKey(n phone.Number) []byte { return []byte(n.String()) }

// VerifyStore is verify.Store on bbolt. Each method is one bbolt
// transaction, which bbolt serialises, so every method is atomic. The
// writes of the hot paths (stamps, code attempts, ends, devices,
// preferences) are grouped with concurrent ones into shared transactions
// (see committer): their functions must be safe to run more than once.
type VerifyStore struct {
	db     *bolt.DB
	commit *committer
	// hub wakes the watchers of a customer's call events.
	hub *notify.Hub
}

var _ verify.Store = (*VerifyStore)(nil)

// NewVerifyStore creates the buckets it needs in db.
func NewVerifyStore(db *bolt.DB) (*VerifyStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		backfill := tx.Bucket(vbByCaller) == nil
		backfillExpiry := tx.Bucket(vbByExpiry) == nil
		for _, b := range [][]byte{vbCalls, vbByCallee, vbByCaller, vbByExpiry, vbDevices, vbPrefs, vbKeys, vbMeta, vbEvents, vbEventsBySeq} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if backfillExpiry {
			// A store written before retention: index every call by its
			// expiry, so that the sweeper finds the old ones too.
			if err := tx.Bucket(vbCalls).ForEach(func(k, v []byte) error {
				r, err := vDecodeCall(v)
				if err != nil {
					return fmt.Errorf("decode call %s: %w", k, err)
				}
				return tx.Bucket(vbByExpiry).Put(vExpiryIndexKey(r), nil)
			}); err != nil {
				return err
			}
		}
		if backfill {
			// A store written before the caller index existed: index its
			// live calls, so that ending a line's calls finds them all.
			return tx.Bucket(vbCalls).ForEach(func(k, v []byte) error {
				r, err := vDecodeCall(v)
				if err != nil {
					return fmt.Errorf("decode call %s: %w", k, err)
				}
				if verify.State(r.State) != verify.StateActive {
					return nil
				}
				return tx.Bucket(vbByCaller).Put(vCallerIndexKey(r), nil)
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create verify buckets: %w", err)
	}
	return &VerifyStore{db: db, commit: newCommitter(db), hub: notify.New()}, nil
}

// NewCallID implements verify.Store: the milliseconds since the Unix epoch
// (48 bits, big-endian) then 80 random bits, the same for every callee (one
// file has no shards).
//
// The time comes first so that the calls a commit adds, whose ids share
// their first characters, share the calls bucket's leaves too, where random
// ids would dirty a leaf each (a group of 50 stamps took about twice the
// time, BenchmarkCreateCall). The base32 alphabet puts its digits after its
// letters, so ids do not sort by time as strings; they need not. The id
// tells no more than the call's own create_time; 80 random bits are still
// beyond guessing.
func (s *VerifyStore) NewCallID(phone.Number) string { return newCallID(time.Now()) }

func newCallID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	b[0], b[1] = byte(ms>>40), byte(ms>>32)
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return callIDEncoding.EncodeToString(b[:])
}

var callIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
