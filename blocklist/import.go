package blocklist

import (
	"context"
	"errors"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

const (
	// ImportBatch is how many rows one store transaction takes. Memory
	// stays at one batch however long the stream.
	ImportBatch = 1000
	// MaxImportErrors is how many row errors a summary lists; the
	// rejected count goes on.
	MaxImportErrors = 1000
)

// ImportError says why the row at Index (zero-based position in the
// stream) was rejected.
type ImportError struct {
	Index   int64
	Message string
}

// ImportSummary is what an import did.
type ImportSummary struct {
	Imported int64 // new entries
	Updated  int64 // rows whose pattern had an entry (changed or not)
	Rejected int64
	Errors   []ImportError // the first MaxImportErrors
}

// Importer takes the rows of one import. Entries are matched on pattern: a
// known pattern is updated, so importing the same rows twice changes
// nothing the second time. Rows are validated one by one; bad rows are
// counted and reported while good rows are imported. It is not safe for
// concurrent use.
type Importer struct {
	s     *Service
	actor audit.Actor
	batch []Entry
	rows  []int64 // stream position of each batched row
	next  int64
	sum   ImportSummary
	done  bool

	// One batch commits in the background while the next is read and
	// validated (parsing numbers costs about as much as committing them).
	// At most two batches are held, so memory stays flat.
	inflight   *flight
	spareBatch []Entry
	spareRows  []int64
}

// flight is a batch being committed.
type flight struct {
	done     chan struct{}
	batch    []Entry
	rows     []int64
	outcomes []ImportOutcome
	err      error
}

// NewImporter starts an import by actor. Finish or Abandon it.
func (s *Service) NewImporter(actor audit.Actor) *Importer {
	return &Importer{s: s, actor: actor, batch: make([]Entry, 0, ImportBatch), rows: make([]int64, 0, ImportBatch)}
}

// Add takes the next row. Pattern may be in any form CreateEntry accepts;
// Source defaults to SOURCE_IMPORT. ID, Kind, author and times are ignored.
// A bad row is not an error: it is counted in the summary. Add returns an
// error only when the store fails, and the import should then stop.
func (im *Importer) Add(ctx context.Context, e Entry) error {
	if im.done {
		return errors.New("blocklist: Add after the import finished")
	}
	idx := im.next
	im.next++
	now := im.s.clock()
	if e.Source == SourceUnspecified {
		e.Source = SourceImport
	}
	e, err := im.s.validateEntry(e, now, true)
	if err != nil {
		im.reject(idx, err)
		return nil
	}
	e.ID, e.Rev = "", 0
	e.CreateBy, e.CreateTime, e.UpdateTime = im.actor.Subject, now, now
	im.batch = append(im.batch, e)
	im.rows = append(im.rows, idx)
	if len(im.batch) == ImportBatch {
		return im.flush(ctx)
	}
	return nil
}

func (im *Importer) reject(idx int64, err error) {
	im.sum.Rejected++
	if len(im.sum.Errors) >= MaxImportErrors {
		return
	}
	msg, ok := fault.Message(err)
	if !ok {
		msg = "the row could not be imported"
	}
	im.sum.Errors = append(im.sum.Errors, ImportError{Index: idx, Message: msg})
}

// flush starts committing the current batch, once the previous one is in.
func (im *Importer) flush(ctx context.Context) error {
	if err := im.wait(); err != nil {
		return err
	}
	if len(im.batch) == 0 {
		return nil
	}
	f := &flight{done: make(chan struct{}), batch: im.batch, rows: im.rows}
	go func() {
		defer close(f.done)
		now := im.s.clock()
		f.err = im.s.write(func() ([]Change, error) {
			var chs []Change
			var err error
			f.outcomes, chs, err = im.s.store.ImportEntries(ctx, f.batch, now)
			return chs, err
		})
	}()
	im.inflight = f
	if im.spareBatch != nil {
		im.batch, im.rows = im.spareBatch[:0], im.spareRows[:0]
		im.spareBatch, im.spareRows = nil, nil
	} else {
		im.batch, im.rows = make([]Entry, 0, ImportBatch), make([]int64, 0, ImportBatch)
	}
	return nil
}

// wait waits for the batch in flight and counts its outcomes.
func (im *Importer) wait() error {
	f := im.inflight
	if f == nil {
		return nil
	}
	<-f.done
	im.inflight = nil
	if f.err != nil {
		return f.err
	}
	for i, o := range f.outcomes {
		switch o.Result {
		case ImportCreated:
			im.sum.Imported++
		case ImportUpdated, ImportUnchanged:
			im.sum.Updated++
		default:
			var c *ConflictError
			if errors.As(o.Err, &c) {
				o.Err = fault.Precondition("pattern " + f.batch[i].Pattern + " would match the official number " +
					c.Number.String() + ", which must never be blocked")
			}
			im.reject(f.rows[i], o.Err)
		}
	}
	clear(f.batch)
	im.spareBatch, im.spareRows = f.batch[:0], f.rows[:0]
	return nil
}

// Finish imports the last rows and records one audit event with the counts.
func (im *Importer) Finish(ctx context.Context) (ImportSummary, error) {
	if im.done {
		return im.sum, errors.New("blocklist: import finished twice")
	}
	err := im.flush(ctx)
	if err == nil {
		err = im.wait()
	}
	if err != nil {
		im.finish(ctx, err)
		return im.sum, err
	}
	return im.sum, im.finish(ctx, nil)
}

// Abandon ends an import whose stream broke: rows already committed stay,
// rows still batched are dropped, and the audit event says so. It is safe
// to call after Finish (it then does nothing).
func (im *Importer) Abandon(ctx context.Context, cause error) {
	if im.done {
		return
	}
	_ = im.wait() // its error is cause's consequence or beside the point now
	im.finish(ctx, cause)
}

func (im *Importer) finish(ctx context.Context, cause error) error {
	im.done = true
	after := map[string]any{
		"rows":     im.next,
		"imported": im.sum.Imported,
		"updated":  im.sum.Updated,
		"rejected": im.sum.Rejected,
	}
	if cause != nil {
		after["aborted"] = true
		after["dropped"] = len(im.batch)
	}
	// The record must be written even when the client's context is gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return im.s.audit.Record(ctx, im.actor, "entry.import", "blocklist", nil, after)
}
