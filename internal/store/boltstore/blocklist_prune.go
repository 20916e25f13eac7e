package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
)

// initReportRetention brings a store written before retention up to date:
// it moves the reporters' day counters into their by-day layout, and
// creates bReportsByLast with every group that PruneReports may delete.
func initReportRetention(tx *bolt.Tx) error {
	if old := tx.Bucket(bReporterDaysV1); old != nil {
		days, err := tx.CreateBucketIfNotExists(bReporterDays)
		if err != nil {
			return err
		}
		if err := old.ForEach(func(k, v []byte) error {
			if len(k) != reporterKeyLen+4 {
				return nil
			}
			return days.Put(dayKey(binary.BigEndian.Uint32(k[reporterKeyLen:]), k[:reporterKeyLen]), v)
		}); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bReporterDaysV1); err != nil {
			return err
		}
	}
	if tx.Bucket(bReportsByLast) != nil {
		return nil
	}
	byLast, err := tx.CreateBucket(bReportsByLast)
	if err != nil {
		return err
	}
	return tx.Bucket(bReports).ForEach(func(k, v []byte) error {
		var g reportGroupRecord
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("decode report group: %w", err)
		}
		if blocklist.ReportStatus(g.Status) == blocklist.ReportBlocked {
			return nil
		}
		return byLast.Put(lastKey(g), nil)
	})
}

// PruneReports implements blocklist.Store: the oldest report records (their
// IDs are in the order they were made), then the groups whose last report
// is oldest, at most limit together in one transaction, so that the write
// lock is held briefly.
func (s *BlocklistStore) PruneReports(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	var records, groups, dayCounters int
	err := s.db.Update(func(tx *bolt.Tx) error {
		log := tx.Bucket(bReportLog)
		var old [][]byte
		c := log.Cursor()
		for k, v := c.First(); k != nil && len(old) < limit; k, v = c.Next() {
			var r reportRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode report %x: %w", k, err)
			}
			if !r.Create.Before(before) {
				break
			}
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		records = len(old)

		byLast := tx.Bucket(bReportsByLast)
		floor := vTimeKey(before)
		var keys [][]byte
		c = byLast.Cursor()
		for k, _ := c.First(); k != nil && records+len(keys) < limit; k, _ = c.Next() {
			if len(k) <= 8 {
				return fmt.Errorf("bad report index key")
			}
			if binary.BigEndian.Uint64(k[:8]) >= floor {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			n, err := deleteGroup(tx, phone.Number(k[8:]))
			if err != nil {
				return err
			}
			groups += n
			if err := byLast.Delete(k); err != nil {
				return err
			}
		}
		// Reporters' day counters of days before before.
		days := tx.Bucket(bReporterDays)
		floorDay := uint32(before.Unix() / 86400)
		if before.Unix() < 0 {
			floorDay = 0
		}
		var oldDays [][]byte
		dc := days.Cursor()
		for k, _ := dc.First(); k != nil && records+groups+len(oldDays) < limit; k, _ = dc.Next() {
			if len(k) < 4 || binary.BigEndian.Uint32(k[:4]) >= floorDay {
				break
			}
			oldDays = append(oldDays, bytes.Clone(k))
		}
		for _, k := range oldDays {
			if err := days.Delete(k); err != nil {
				return err
			}
		}
		dayCounters = len(oldDays)

		if records+groups+dayCounters == 0 {
			return nil
		}
		ev = withCount(ev, "pruned_reports", records)
		ev = withCount(ev, "pruned_groups", groups)
		ev = withCount(ev, "pruned_reporter_days", dayCounters)
		_, err := appendAudit(tx, ev)
		return err
	})
	if err != nil {
		return 0, storeErr(err)
	}
	return records + groups + dayCounters, nil
}

// deleteGroup removes the group of n with its rank and its reporters, and
// says whether there was one to remove (1) or not (0). A BLOCKED group is
// never in bReportsByLast; should a stale key name one, it is kept.
func deleteGroup(tx *bolt.Tx, n phone.Number) (int, error) {
	g, ok, err := getGroup(tx, n)
	if err != nil || !ok || blocklist.ReportStatus(g.Status) == blocklist.ReportBlocked {
		return 0, err
	}
	if err := tx.Bucket(bReports).Delete([]byte(g.Number)); err != nil {
		return 0, err
	}
	if err := tx.Bucket(bReportRank).Delete(rankKey(g)); err != nil {
		return 0, err
	}
	reporters := tx.Bucket(bReporters)
	prefix := append([]byte(g.Number), 0)
	var keys [][]byte
	c := reporters.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := reporters.Delete(k); err != nil {
			return 0, err
		}
	}
	return 1, nil
}
