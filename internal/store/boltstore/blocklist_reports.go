package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

var (
	bReports    = []byte("blocklist/reports")     // caller number -> reportGroupRecord
	bReportRank = []byte("blocklist/report_rank") // status rank, ^count, caller number -> ""
	bReporters  = []byte("blocklist/reporters")   // caller number 0x00 reporter key -> last report (ms)
	bReportLog  = []byte("blocklist/report_log")  // report id -> reportRecord
	// bReporterDays counts each reporter's reports per UTC day, ordered by
	// day so that PruneReports drops old days from the front.
	bReporterDays = []byte("blocklist/reporter_days_by_day") // UTC day(4), reporter key -> reports that day
	// bReporterDaysV1 is the layout before retention (reporter key, UTC
	// day), moved into bReporterDays when a store is opened.
	bReporterDaysV1 = []byte("blocklist/reporter_days")
	// bReportsByLast orders the groups PruneReports may delete (OPEN and
	// DISMISSED, never BLOCKED) by their last report.
	bReportsByLast = []byte("blocklist/reports_by_last") // last report(8), caller number -> ""
)

const reporterKeyLen = 16

// reporterKeys are what the blocklist keeps of a reporting customer: an
// HMAC-SHA256, under the server's pseudonym keys, of the customer's store
// identity (vCustomerKey, the one place where a customer becomes a store
// key). A plain digest of a phone number is reversed by trying every number
// (a billion mobile numbers take seconds); without the key, the pseudonym
// says nothing. Truncated to 128 bits, which keeps distinct reporters
// distinct.
//
// The first is the pseudonym written now; the others, under older keys of
// the ring, are the same reporter. AddReport looks under all of them and
// re-keys what it finds to the first, so a rotation keeps every reporter's
// daily count and distinct reporters distinct, and the older keys can be
// dropped once every reporter who matters has reported again (or the
// retention has pruned what they wrote).
func (s *BlocklistStore) reporterKeys(n phone.Number) [][]byte {
	data := append([]byte("callverify/blocklist/reporter\x00"), vCustomerKey(n)...)
	all := s.pseudonyms.All(data)
	for i := range all {
		all[i] = all[i][:reporterKeyLen]
	}
	return all
}

type reportGroupRecord struct {
	Number   string    `json:"number"`
	Count    int       `json:"count"`
	Distinct int       `json:"distinct"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Status   int       `json:"status"`
	Notes    []string  `json:"notes,omitempty"`
	EntryID  string    `json:"entry_id,omitempty"`
}

func (r reportGroupRecord) group() blocklist.ReportedNumber {
	return blocklist.ReportedNumber{
		CallerNumber: phone.Number(r.Number), ReportCount: r.Count, DistinctReporters: r.Distinct,
		FirstReportTime: r.First, LastReportTime: r.Last, Status: blocklist.ReportStatus(r.Status),
		Notes: append([]string(nil), r.Notes...), EntryID: r.EntryID,
	}
}

type reportRecord struct {
	Caller   string    `json:"caller"`
	Reporter string    `json:"reporter"` // reporterKey, hex
	Note     string    `json:"note,omitempty"`
	Occur    time.Time `json:"occur"`
	Create   time.Time `json:"create"`
}

// rankKey orders groups open first, then blocked, then dismissed, and
// busiest first within each.
func rankKey(g reportGroupRecord) []byte {
	rank := byte(3)
	switch blocklist.ReportStatus(g.Status) {
	case blocklist.ReportOpen:
		rank = 0
	case blocklist.ReportBlocked:
		rank = 1
	case blocklist.ReportDismissed:
		rank = 2
	}
	k := make([]byte, 0, 5+len(g.Number))
	k = append(k, rank)
	k = binary.BigEndian.AppendUint32(k, ^uint32(min(g.Count, 1<<32-1)))
	return append(k, g.Number...)
}

func getGroup(tx *bolt.Tx, n phone.Number) (reportGroupRecord, bool, error) {
	v := tx.Bucket(bReports).Get([]byte(n.String()))
	if v == nil {
		return reportGroupRecord{}, false, nil
	}
	var g reportGroupRecord
	if err := json.Unmarshal(v, &g); err != nil {
		return g, false, fmt.Errorf("decode report group: %w", err)
	}
	return g, true, nil
}

// dayKey is a reporter's counter of one UTC day (days since 1970).
func dayKey(day uint32, reporter []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, day), reporter...)
}

// lastKey is a group's key in bReportsByLast.
func lastKey(g reportGroupRecord) []byte {
	return append(binary.BigEndian.AppendUint64(nil, vTimeKey(g.Last)), g.Number...)
}

func putGroup(tx *bolt.Tx, old *reportGroupRecord, g reportGroupRecord) error {
	rank, byLast := tx.Bucket(bReportRank), tx.Bucket(bReportsByLast)
	if old != nil {
		if err := rank.Delete(rankKey(*old)); err != nil {
			return err
		}
		if err := byLast.Delete(lastKey(*old)); err != nil {
			return err
		}
	}
	if blocklist.ReportStatus(g.Status) != blocklist.ReportBlocked {
		if err := byLast.Put(lastKey(g), nil); err != nil {
			return err
		}
	}
	v, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bReports).Put([]byte(g.Number), v); err != nil {
		return err
	}
	return rank.Put(rankKey(g), nil)
}

// AddReport implements blocklist.Store.
func (s *BlocklistStore) AddReport(ctx context.Context, r blocklist.Report, reporter phone.Number, lim blocklist.ReportLimits, ev audit.Event) (blocklist.Report, blocklist.ReportedNumber, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.Report{}, blocklist.ReportedNumber{}, err
	}
	rks := s.reporterKeys(reporter)
	rk := rks[0]
	var grp blocklist.ReportedNumber
	// Grouped with concurrent writes: the function below may run more
	// than once, and sets r.ID and grp afresh each time.
	err := s.commit.update(func(tx *bolt.Tx) error {
		// The daily allowance: one counter per reporter and UTC day (old
		// days go with the retention). Today's count under an older
		// pseudonym key joins the current key's.
		days := tx.Bucket(bReporterDays)
		today := uint32(r.CreateTime.Unix() / 86400)
		used := uint32(0)
		var drop [][]byte
		for i, p := range rks {
			k := dayKey(today, p)
			if v := days.Get(k); len(v) == 4 {
				used += binary.BigEndian.Uint32(v)
				if i > 0 {
					drop = append(drop, k)
				}
			}
		}
		if lim.MaxPerDay > 0 && int(used) >= lim.MaxPerDay {
			return fmt.Errorf("reporter made %d reports today: %w", used, fault.ErrResourceExhausted)
		}
		for _, k := range drop {
			if err := days.Delete(k); err != nil {
				return err
			}
		}
		if err := days.Put(dayKey(today, rk), binary.BigEndian.AppendUint32(nil, used+1)); err != nil {
			return err
		}

		g, existed, err := getGroup(tx, r.CallerNumber)
		if err != nil {
			return err
		}
		old := g
		if !existed {
			g = reportGroupRecord{Number: r.CallerNumber.String(), First: r.CreateTime, Status: int(blocklist.ReportOpen)}
		}
		reporters := tx.Bucket(bReporters)
		callerPrefix := append([]byte(r.CallerNumber.String()), 0)
		repKey := append(bytes.Clone(callerPrefix), rk...)
		seen := reporters.Get(repKey) != nil
		for _, old := range rks[1:] {
			// The same reporter under an older key: re-keyed below.
			oldKey := append(bytes.Clone(callerPrefix), old...)
			if reporters.Get(oldKey) != nil {
				seen = true
				if err := reporters.Delete(oldKey); err != nil {
					return err
				}
			}
		}
		if !seen {
			g.Distinct++
		}
		if err := reporters.Put(repKey, binary.BigEndian.AppendUint64(nil, uint64(r.CreateTime.UnixMilli()))); err != nil {
			return err
		}
		g.Count++
		g.Last = r.CreateTime
		if r.Note != "" && lim.Notes > 0 {
			g.Notes = append([]string{r.Note}, g.Notes[:min(len(g.Notes), lim.Notes-1)]...)
		}
		if blocklist.ReportStatus(g.Status) == blocklist.ReportDismissed {
			g.Status = int(blocklist.ReportOpen) // new evidence reopens it
		}
		var oldp *reportGroupRecord
		if existed {
			oldp = &old
		}
		if err := putGroup(tx, oldp, g); err != nil {
			return err
		}

		log := tx.Bucket(bReportLog)
		seq, err := log.NextSequence()
		if err != nil {
			return err
		}
		id := binary.BigEndian.AppendUint64(nil, seq)
		r.ID = hex.EncodeToString(id)
		v, err := json.Marshal(reportRecord{
			Caller: r.CallerNumber.String(), Reporter: hex.EncodeToString(rk), Note: r.Note,
			Occur: r.OccurTime, Create: r.CreateTime,
		})
		if err != nil {
			return err
		}
		if err := log.Put(id, v); err != nil {
			return err
		}

		grp = g.group()
		if lim.Window > 0 {
			since := uint64(r.CreateTime.Add(-lim.Window).UnixMilli())
			prefix := append([]byte(r.CallerNumber.String()), 0)
			c := reporters.Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if len(v) == 8 && binary.BigEndian.Uint64(v) >= since {
					grp.RecentReporters++
				}
			}
		}
		_, err = appendAudit(tx, blocklist.ReportEvent(ev, r, grp))
		return err
	})
	if err != nil {
		return blocklist.Report{}, blocklist.ReportedNumber{}, storeErr(err)
	}
	return r, grp, nil
}

// GetReportedNumber implements blocklist.Store.
func (s *BlocklistStore) GetReportedNumber(ctx context.Context, n phone.Number) (blocklist.ReportedNumber, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.ReportedNumber{}, err
	}
	var grp blocklist.ReportedNumber
	err := s.db.View(func(tx *bolt.Tx) error {
		g, ok, err := getGroup(tx, n)
		if err != nil {
			return err
		}
		if !ok {
			return fault.ErrNotFound
		}
		grp = g.group()
		return nil
	})
	return grp, storeErr(err)
}

// ListReportedNumbers implements blocklist.Store. The cursor is the last
// rank key of the previous page.
func (s *BlocklistStore) ListReportedNumbers(ctx context.Context, cursor string, limit int) ([]blocklist.ReportedNumber, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	var out []blocklist.ReportedNumber
	next := ""
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bReportRank).Cursor()
		k, _ := c.First()
		if cursor != "" {
			k, _ = c.Seek([]byte(cursor))
			if k != nil && string(k) == cursor {
				k, _ = c.Next()
			}
		}
		var last []byte
		for ; k != nil; k, _ = c.Next() {
			if len(out) == limit {
				next = string(last)
				return nil
			}
			if len(k) < 6 {
				continue
			}
			g, ok, err := getGroup(tx, phone.Number(k[5:]))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			out = append(out, g.group())
			last = k
		}
		return nil
	})
	return out, next, storeErr(err)
}

// ResolveReportedNumber implements blocklist.Store.
func (s *BlocklistStore) ResolveReportedNumber(ctx context.Context, n phone.Number, status blocklist.ReportStatus, block *blocklist.Entry, now time.Time, ev audit.Event) (blocklist.ReportedNumber, blocklist.Entry, []blocklist.Change, error) {
	if err := ctx.Err(); err != nil {
		return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, err
	}
	var grp blocklist.ReportedNumber
	var entry blocklist.Entry
	var chs []blocklist.Change
	err := s.db.Update(func(tx *bolt.Tx) error {
		g, ok, err := getGroup(tx, n)
		if err != nil {
			return err
		}
		if !ok {
			return fault.ErrNotFound
		}
		if blocklist.ReportStatus(g.Status) != blocklist.ReportOpen {
			return fmt.Errorf("reports are %s: %w", blocklist.ReportStatus(g.Status), fault.ErrFailedPrecondition)
		}
		old := g
		if block != nil {
			t := s.entryTx(tx)
			cur, exists, err := t.get(block.Pattern)
			if err != nil {
				return err
			}
			if exists && cur.ActiveAt(now) {
				entry = cur
			} else {
				e := *block
				e.ID = ""
				if exists {
					// An expired entry of that pattern is renewed, keeping
					// its id, rather than reused as it is: it no longer
					// matches, and the block must.
					e.ID, e.CreateBy, e.CreateTime = cur.ID, cur.CreateBy, cur.CreateTime
					t.counts[[2]byte{byte(cur.Category), byte(cur.Source)}]--
				}
				if err := t.officialConflict(e, now); err != nil {
					return err
				}
				var c blocklist.Change
				if entry, c, err = t.put(e); err != nil {
					return err
				}
				chs = append(chs, c)
				if err := t.flushCounts(); err != nil {
					return err
				}
			}
			g.EntryID = entry.ID
		}
		g.Status = int(status)
		if err := putGroup(tx, &old, g); err != nil {
			return err
		}
		grp = g.group()
		var blocked *blocklist.Entry
		if block != nil {
			blocked = &entry
		}
		_, err = appendAudit(tx, blocklist.ResolveEvent(ev, old.group(), grp, blocked))
		return err
	})
	if err != nil {
		return blocklist.ReportedNumber{}, blocklist.Entry{}, nil, storeErr(err)
	}
	return grp, entry, chs, nil
}
