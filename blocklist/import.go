package blocklist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
// stream) was rejected. Line is the row's line in the client's file, when
// the client said (0 otherwise).
type ImportError struct {
	Index   int64
	Line    int64
	Message string
}

// ImportSummary is what an import did.
type ImportSummary struct {
	Imported int64 // new entries
	Updated  int64 // rows whose pattern had an entry (changed or not)
	Rejected int64
	Errors   []ImportError // the first MaxImportErrors
}

// Rows is how many rows the import took: every row is imported, updated or
// rejected.
func (s ImportSummary) Rows() int64 { return s.Imported + s.Updated + s.Rejected }

// Importer takes the rows of one import. Entries are matched on pattern: a
// known pattern is updated, so importing the same rows twice changes
// nothing the second time. Rows are validated one by one; bad rows are
// counted and reported while good rows are imported. It is not safe for
// concurrent use.
//
// Each batch commits with its own audit event (action entry.import, one
// import_id for the whole import): the rows and lines it covers, how many
// it created, updated, left unchanged, refused and rejected before the
// store, and the patterns it created or updated. An import cut short (a
// broken stream, kill -9) thus leaves a record of every batch that
// committed, and the last batch of a finished import says "done".
type Importer struct {
	s     *Service
	actor audit.Actor
	id    string
	batch []Entry
	rows  []int64 // stream position of each batched row
	lines []int64 // file line of each batched row (0: not given)
	next  int64
	sum   ImportSummary
	done  bool

	// What the next batch event covers: rows from index span.first on,
	// the file lines seen, and the rows rejected before the store.
	span     span
	batchNum int

	// One batch commits in the background while the next is read and
	// validated (parsing numbers costs about as much as committing them).
	// At most two batches are held, so memory stays flat.
	inflight   *flight
	spareBatch []Entry
	spareRows  []int64
	spareLines []int64
}

type span struct {
	first               int64
	firstLine, lastLine int64
	invalid             int
}

// flight is a batch being committed.
type flight struct {
	done     chan struct{}
	batch    []Entry
	rows     []int64
	lines    []int64
	outcomes []ImportOutcome
	err      error
}

// NewImporter starts an import by actor. Finish or Abandon it.
func (s *Service) NewImporter(actor audit.Actor) *Importer {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Importer{
		s: s, actor: actor, id: hex.EncodeToString(id[:]),
		batch: make([]Entry, 0, ImportBatch), rows: make([]int64, 0, ImportBatch), lines: make([]int64, 0, ImportBatch),
	}
}

// Add takes the next row; line is where it stands in the client's file (0
// when unknown), to name it in errors and records. Pattern may be in any
// form CreateEntry accepts; Source defaults to SOURCE_IMPORT. ID, Kind,
// author and times are ignored. A bad row is not an error: it is counted
// in the summary. Add returns an error only when the store fails, and the
// import should then stop.
func (im *Importer) Add(ctx context.Context, line int64, e Entry) error {
	if im.done {
		return errors.New("blocklist: Add after the import finished")
	}
	idx := im.take(line)
	now := im.s.clock()
	if e.Source == SourceUnspecified {
		e.Source = SourceImport
	}
	e, err := im.s.validateEntry(e, now, true)
	if err != nil {
		im.span.invalid++
		im.reject(idx, line, err)
		return nil
	}
	e.ID, e.Rev = "", 0
	e.CreateBy, e.CreateTime, e.UpdateTime = im.actor.Subject, now, now
	im.batch = append(im.batch, e)
	im.rows = append(im.rows, idx)
	im.lines = append(im.lines, line)
	if len(im.batch) == ImportBatch {
		return im.flush(ctx, false)
	}
	return nil
}

// Reject counts a row that the client or the transport could not read as
// an entry (a malformed line, a bad CSV cell), with why. It is a row of
// the stream like any other: it has its index, and the import goes on.
func (im *Importer) Reject(line int64, why string) {
	if im.done {
		return
	}
	idx := im.take(line)
	im.span.invalid++
	im.reject(idx, line, fault.New(fault.ErrInvalidArgument, cleanRowError(why)))
}

// take gives the next row its index and widens the span of the next batch
// event to it.
func (im *Importer) take(line int64) int64 {
	idx := im.next
	im.next++
	if line > 0 {
		if im.span.firstLine == 0 {
			im.span.firstLine = line
		}
		im.span.lastLine = line
	}
	return idx
}

// maxRowError bounds the reason given for a row nobody could read; it
// quotes the client's own text back.
const maxRowError = 200

// cleanRowError bounds a reader's message and drops control characters, so
// that it reads safely in a console.
func cleanRowError(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > maxRowError {
		s = string([]rune(s)[:maxRowError]) + "..."
	}
	if s = strings.TrimSpace(s); s == "" {
		s = "could not be read"
	}
	return s
}

func (im *Importer) reject(idx, line int64, err error) {
	im.sum.Rejected++
	if len(im.sum.Errors) >= MaxImportErrors {
		return
	}
	msg, ok := fault.Message(err)
	if !ok {
		msg = "the row could not be imported"
	}
	im.sum.Errors = append(im.sum.Errors, ImportError{Index: idx, Line: line, Message: msg})
}

// flush starts committing the current batch with its event, once the
// previous one is in. The last batch (final) is committed even when empty:
// its event says the import is done.
func (im *Importer) flush(ctx context.Context, final bool) error {
	if err := im.wait(); err != nil {
		return err
	}
	if len(im.batch) == 0 && !final {
		return nil
	}
	im.batchNum++
	after := map[string]any{
		"import_id":   im.id,
		"batch":       im.batchNum,
		"first_index": im.span.first,
		"last_index":  im.next - 1,
		"rows":        im.next - im.span.first,
		"invalid":     im.span.invalid,
	}
	if im.span.firstLine > 0 {
		after["first_line"], after["last_line"] = im.span.firstLine, im.span.lastLine
	}
	if final {
		after["done"] = true
	}
	im.span = span{first: im.next}
	ev := im.s.audit.Event(im.actor, "entry.import", "blocklist", nil, after)
	f := &flight{done: make(chan struct{}), batch: im.batch, rows: im.rows, lines: im.lines}
	go func() {
		defer close(f.done)
		now := im.s.clock()
		f.err = im.s.write(ctx, func() ([]Change, error) {
			var chs []Change
			var err error
			f.outcomes, chs, err = im.s.store.ImportEntries(ctx, f.batch, now, ev)
			return chs, err
		})
	}()
	im.inflight = f
	if im.spareBatch != nil {
		im.batch, im.rows, im.lines = im.spareBatch[:0], im.spareRows[:0], im.spareLines[:0]
		im.spareBatch, im.spareRows, im.spareLines = nil, nil, nil
	} else {
		im.batch = make([]Entry, 0, ImportBatch)
		im.rows, im.lines = make([]int64, 0, ImportBatch), make([]int64, 0, ImportBatch)
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
	// A batch the store committed counts even when the wait for this
	// instance's index to apply it was cut short (the caller went away):
	// its rows are in the store, with their record.
	if f.err != nil && f.outcomes == nil {
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
			im.reject(f.rows[i], f.lines[i], o.Err)
		}
	}
	clear(f.batch)
	im.spareBatch, im.spareRows, im.spareLines = f.batch[:0], f.rows[:0], f.lines[:0]
	return f.err
}

// Finish imports the last rows, with the event that closes the import's
// record, and returns what the import did.
func (im *Importer) Finish(ctx context.Context) (ImportSummary, error) {
	if im.done {
		return im.sum, errors.New("blocklist: import finished twice")
	}
	im.done = true
	err := im.flush(ctx, true)
	if err == nil {
		err = im.wait()
	}
	return im.sum, err
}

// Abandon ends an import whose stream broke: batches already committed
// stay, with their records; rows still batched are dropped, and a last
// event (entry.import.abort) says how many. It is safe to call after
// Finish (it then does nothing).
func (im *Importer) Abandon(ctx context.Context, cause error) {
	if im.done {
		return
	}
	im.done = true
	_ = im.wait() // its error is cause's consequence or beside the point now
	after := map[string]any{
		"import_id": im.id,
		"rows":      im.next,
		"imported":  im.sum.Imported,
		"updated":   im.sum.Updated,
		"rejected":  im.sum.Rejected,
		"dropped":   len(im.batch),
	}
	// The record must be written even when the client's context is gone.
	// It records that nothing more changed, so it stands on its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = im.s.audit.Record(ctx, im.actor, "entry.import.abort", "blocklist", nil, after)
}
