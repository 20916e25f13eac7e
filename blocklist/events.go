package blocklist

import (
	"maps"
	"time"

	"github.com/callverify/callverify/internal/audit"
)

// The audit events of the numbers domain. The Service fills in who, what and
// when; the Store completes each with what its atomic step decided (the
// entry ID it assigned, the row it replaced, the counts of a batch) through
// these functions, and appends it in the same step as the change, so that
// every backend records the same thing.

// EntryEvent completes the event of one entry write: its target is the
// entry's ID, Before and After the snapshots of the entry before and after
// (nil for none).
func EntryEvent(ev audit.Event, before, after *Entry) audit.Event {
	ev.Before, ev.After = nil, nil
	if before != nil {
		ev.Target, ev.Before = before.ID, before.snapshot()
	}
	if after != nil {
		ev.Target, ev.After = after.ID, after.snapshot()
	}
	return ev
}

// ImportBatchEvent completes the event of one import batch with what the
// batch did: how many rows it created, updated, left unchanged and refused,
// and the patterns it created and updated. The keys the Service put in
// ev.After (the import's ID, the batch's rows and lines, the rows rejected
// before they reached the store) are kept.
func ImportBatchEvent(ev audit.Event, batch []Entry, outs []ImportOutcome) audit.Event {
	after := maps.Clone(ev.After)
	if after == nil {
		after = map[string]any{}
	}
	var created, updated []string
	unchanged, refused := 0, 0
	for i, o := range outs {
		switch o.Result {
		case ImportCreated:
			created = append(created, batch[i].Pattern)
		case ImportUpdated:
			updated = append(updated, batch[i].Pattern)
		case ImportUnchanged:
			unchanged++
		default:
			refused++
		}
	}
	after["created"] = len(created)
	after["updated"] = len(updated)
	after["unchanged"] = unchanged
	after["refused"] = refused
	after["created_patterns"] = stringsOrEmpty(created)
	after["updated_patterns"] = stringsOrEmpty(updated)
	ev.Target = "blocklist"
	ev.After = after
	return ev
}

// stringsOrEmpty keeps an empty list a list in the stored JSON.
func stringsOrEmpty(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ReportEvent completes the event of a customer's report: its target is the
// reported number (a caller, not the customer), After the report and its
// group as they now stand. The reporter is only ever in ev as the Service
// put it there: masked.
func ReportEvent(ev audit.Event, r Report, g ReportedNumber) audit.Event {
	after := g.snapshot()
	after["report_id"] = r.ID
	after["occur_time"] = r.OccurTime.UTC().Format(time.RFC3339)
	ev.Target, ev.Before, ev.After = r.CallerNumber.String(), nil, after
	return ev
}

// ResolveEvent completes the event of a resolution: the reported number's
// group before and after, and the entry that blocks it (nil for a
// dismissal).
func ResolveEvent(ev audit.Event, before, after ReportedNumber, entry *Entry) audit.Event {
	a := after.snapshot()
	if entry != nil {
		a["entry"] = entry.snapshot()
	}
	ev.Target, ev.Before, ev.After = after.CallerNumber.String(), before.snapshot(), a
	return ev
}
