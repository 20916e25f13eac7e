package blocklist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
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
// nothing the second time. Rows are judged one by one; bad rows are
// counted and reported while good rows are imported. It is not safe for
// concurrent use.
//
// Rows are cut into batches of ImportBatch in stream order. Each batch is
// decoded and validated on a goroutine of its own, so that several batches
// are judged at once on as many cores, and is then handed to the store
// sorted by pattern (a store writes neighbouring keys together), after the
// batch before it committed: batches commit in stream order, so what an
// import committed is always its first rows. At most importDepth batches
// are held, so memory stays flat however long the stream.
//
// Each batch commits with its own audit event (action entry.import, one
// import_id for the whole import): the rows and lines it covers, how many
// it created, updated, left unchanged, refused and rejected before the
// store, and the patterns it created or updated. An import cut short (a
// broken stream, kill -9) thus leaves a record of every batch that
// committed, and the last batch of a finished import says "done".
//
// The matching index learns of the import from the store's change log, as
// of any write: the importer wakes the follower after each batch and waits
// for it only once, in Finish, so that the caller then reads its import in
// Match.
type Importer struct {
	s     *Service
	actor audit.Actor
	id    string
	rows  []pendingRow // the batch being filled
	next  int64        // stream index of the next row
	sum   ImportSummary
	done  bool

	batchNum int
	// flights are the batches cut and not yet counted, oldest first; each
	// commits after the one before it.
	flights []*flight
	// lastSeq is the last change a counted batch made.
	lastSeq uint64
	spare   [][]pendingRow
}

// importDepth is how many batches an import holds at once besides the one
// being filled: batches being judged while an older one commits.
const importDepth = 4

// Row is an import row that still has to be read (a line of JSON text):
// Decode turns it into an entry, or says why it is not one, on the
// importer's goroutine for its batch, in parallel with other batches.
type Row interface {
	Decode() (e Entry, bad string)
}

type pendingRow struct {
	line int64
	e    Entry
	row  Row    // when set, e comes from row.Decode
	bad  string // when set, the row was rejected before it was read
}

// flight is a batch cut from the stream: judged, then committed after the
// batch before it.
type flight struct {
	first int64 // stream index of rows[0]
	rows  []pendingRow
	final bool
	prev  *flight
	done  chan struct{}

	// Set by run before done closes.
	committed bool // the store committed the batch and its event
	errs      []ImportError
	imported  int64
	updated   int64
	rejected  int64
	lastSeq   uint64
	err       error
}

// NewImporter starts an import by actor. Finish or Abandon it.
func (s *Service) NewImporter(actor audit.Actor) *Importer {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Importer{
		s: s, actor: actor, id: hex.EncodeToString(id[:]),
		rows: make([]pendingRow, 0, ImportBatch),
	}
}

// Add takes the next row; line is where it stands in the client's file (0
// when unknown), to name it in errors and records. Pattern may be in any
// form CreateEntry accepts; Source defaults to SOURCE_IMPORT. ID, Kind,
// author and times are ignored. A bad row is not an error: it is counted
// in the summary. Add returns an error only when the store fails, and the
// import should then stop.
func (im *Importer) Add(ctx context.Context, line int64, e Entry) error {
	return im.push(ctx, pendingRow{line: line, e: e})
}

// AddRow is Add for a row still to be read: r.Decode runs on the batch's
// goroutine, so reading rows (parsing JSON) is spread over the cores too.
func (im *Importer) AddRow(ctx context.Context, line int64, r Row) error {
	return im.push(ctx, pendingRow{line: line, row: r})
}

// Reject counts a row that the client or the transport could not read as
// an entry (a malformed line, a bad CSV cell), with why. It is a row of
// the stream like any other: it has its index, and the import goes on.
// Like Add, it returns an error only when the store fails.
func (im *Importer) Reject(ctx context.Context, line int64, why string) error {
	return im.push(ctx, pendingRow{line: line, bad: cleanRowError(why)})
}

func (im *Importer) push(ctx context.Context, r pendingRow) error {
	if im.done {
		return errors.New("blocklist: Add after the import finished")
	}
	im.rows = append(im.rows, r)
	im.next++
	if len(im.rows) == ImportBatch {
		return im.cut(ctx, false)
	}
	return nil
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

func (im *Importer) reject(errs []ImportError, idx, line int64, err error) []ImportError {
	if len(errs) >= MaxImportErrors {
		return errs
	}
	msg, ok := fault.Message(err)
	if !ok {
		msg = "the row could not be imported"
	}
	return append(errs, ImportError{Index: idx, Line: line, Message: msg})
}

// cut hands the batch being filled to a goroutine that judges and commits
// it, once fewer than importDepth batches are held. The last batch (final)
// is cut even when empty: its event says the import is done.
func (im *Importer) cut(ctx context.Context, final bool) error {
	if len(im.rows) == 0 && !final {
		return nil
	}
	for len(im.flights) >= importDepth {
		if err := im.collect(); err != nil {
			return err
		}
	}
	im.batchNum++
	f := &flight{first: im.next - int64(len(im.rows)), rows: im.rows, final: final, done: make(chan struct{})}
	if n := len(im.flights); n > 0 {
		f.prev = im.flights[n-1]
	}
	go im.run(ctx, f, im.batchNum)
	im.flights = append(im.flights, f)
	if n := len(im.spare); n > 0 {
		im.rows, im.spare = im.spare[n-1][:0], im.spare[:n-1]
	} else {
		im.rows = make([]pendingRow, 0, ImportBatch)
	}
	return nil
}

// run judges f's rows, waits for the batch before it, and commits f with
// its event unless that batch failed or the import was abandoned first.
func (im *Importer) run(ctx context.Context, f *flight, batchNum int) {
	defer close(f.done)
	now := im.s.clock()
	// Judge every row. A batch's rows often share a reason, whose text
	// policy (a link check) costs more than the rest of the row: it is
	// judged once per distinct text.
	reasons := map[string]reasonVerdict{}
	batch := make([]Entry, 0, len(f.rows))
	pos := make([]int, 0, len(f.rows)) // index in f.rows of each batch entry
	var bad []ImportError              // rejected before the store, in row order
	firstLine, lastLine := int64(0), int64(0)
	for i := range f.rows {
		r := &f.rows[i]
		if r.line > 0 {
			if firstLine == 0 {
				firstLine = r.line
			}
			lastLine = r.line
		}
		e, err := im.judge(r, now, reasons)
		if err != nil {
			f.rejected++
			bad = im.reject(bad, f.first+int64(i), r.line, err)
			continue
		}
		batch = append(batch, e)
		pos = append(pos, i)
	}
	invalid := int(f.rejected)
	// Key order: the store finds and writes neighbouring keys together.
	// The sort is stable, so rows of one pattern keep their stream order
	// and the last one wins, as it would row by row.
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(batch[a].Pattern, batch[b].Pattern) })
	sorted := make([]Entry, len(batch))
	for i, j := range order {
		sorted[i] = batch[j]
	}

	if f.prev != nil {
		<-f.prev.done
		if !f.prev.committed {
			f.err = f.prev.err
			return
		}
	}
	after := map[string]any{
		"import_id":   im.id,
		"batch":       batchNum,
		"first_index": f.first,
		"last_index":  f.first + int64(len(f.rows)) - 1,
		"rows":        len(f.rows),
		"invalid":     invalid,
	}
	if firstLine > 0 {
		after["first_line"], after["last_line"] = firstLine, lastLine
	}
	if f.final {
		after["done"] = true
	}
	ev := im.s.audit.Event(im.actor, "entry.import", "blocklist", nil, after)
	outs, chs, err := im.s.store.ImportEntries(ctx, sorted, now, ev)
	if err != nil {
		f.err = err
		return
	}
	f.committed = true
	for _, c := range chs {
		f.lastSeq = max(f.lastSeq, c.Seq)
	}
	if f.lastSeq > 0 {
		im.s.follow.poke()
	}
	// Outcomes back in row order, merged with the rows rejected before
	// the store, so that errors are listed by index.
	var refused []ImportError
	rowOut := make([]*ImportOutcome, len(f.rows))
	for k, j := range order {
		rowOut[pos[j]] = &outs[k]
	}
	for i, o := range rowOut {
		if o == nil {
			continue
		}
		switch o.Result {
		case ImportCreated:
			f.imported++
		case ImportUpdated, ImportUnchanged:
			f.updated++
		default:
			f.rejected++
			err := o.Err
			var c *ConflictError
			if errors.As(err, &c) {
				err = fault.Precondition("pattern " + f.rows[i].patternOf() + " would match the official number " +
					c.Number.String() + ", which must never be blocked")
			}
			refused = im.reject(refused, f.first+int64(i), f.rows[i].line, err)
		}
	}
	f.errs = mergeErrors(bad, refused)
}

type reasonVerdict struct {
	text string
	err  error
}

// judge reads and validates one row.
func (im *Importer) judge(r *pendingRow, now time.Time, reasons map[string]reasonVerdict) (Entry, error) {
	if r.bad != "" {
		return Entry{}, fault.New(fault.ErrInvalidArgument, r.bad)
	}
	e := r.e
	if r.row != nil {
		var bad string
		if e, bad = r.row.Decode(); bad != "" {
			return Entry{}, fault.New(fault.ErrInvalidArgument, cleanRowError(bad))
		}
		r.row = nil
	}
	r.e = Entry{} // the row keeps only its canonical pattern, which a refusal names
	if e.Source == SourceUnspecified {
		e.Source = SourceImport
	}
	e, err := im.s.validateEntryWith(e, now, true, func(raw string) (string, error) {
		v, ok := reasons[raw]
		if !ok {
			v.text, v.err = reasonField().Clean(raw)
			if len(reasons) < maxReasonMemo {
				reasons[raw] = v
			}
		}
		return v.text, v.err
	})
	if err != nil {
		return Entry{}, err
	}
	r.e.Pattern = e.Pattern
	e.ID, e.Rev = "", 0
	e.CreateBy, e.CreateTime, e.UpdateTime = im.actor.Subject, now, now
	return e, nil
}

// maxReasonMemo bounds the distinct reasons one batch remembers.
const maxReasonMemo = 64

func (r pendingRow) patternOf() string { return r.e.Pattern }

// mergeErrors merges two lists sorted by index into one, at most
// MaxImportErrors long.
func mergeErrors(a, b []ImportError) []ImportError {
	if len(b) == 0 {
		return a
	}
	out := make([]ImportError, 0, min(len(a)+len(b), MaxImportErrors))
	for len(out) < MaxImportErrors && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || len(a) > 0 && a[0].Index < b[0].Index {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// collect waits for the oldest batch and counts it. A batch that did not
// commit counts nothing: what an import reports is always its first rows,
// every one of them in a committed batch's record.
func (im *Importer) collect() error {
	f := im.flights[0]
	<-f.done
	im.flights = im.flights[1:]
	if f.committed {
		im.sum.Imported += f.imported
		im.sum.Updated += f.updated
		im.sum.Rejected += f.rejected
		for _, e := range f.errs {
			if len(im.sum.Errors) >= MaxImportErrors {
				break
			}
			im.sum.Errors = append(im.sum.Errors, e)
		}
		im.lastSeq = max(im.lastSeq, f.lastSeq)
	}
	clear(f.rows)
	im.spare = append(im.spare, f.rows[:0])
	return f.err
}

// collectAll counts every batch held and returns the first error.
func (im *Importer) collectAll() error {
	var first error
	for len(im.flights) > 0 {
		if err := im.collect(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Finish imports the last rows, with the event that closes the import's
// record, and returns what the import did once the index holds it.
func (im *Importer) Finish(ctx context.Context) (ImportSummary, error) {
	if im.done {
		return im.sum, errors.New("blocklist: import finished twice")
	}
	if err := im.cut(ctx, true); err != nil {
		im.done = true
		_ = im.collectAll()
		return im.sum, err
	}
	im.done = true
	if err := im.collectAll(); err != nil {
		return im.sum, err
	}
	// A batch the store committed counts even when the wait for this
	// instance's index to apply it is cut short (the caller went away):
	// its rows are in the store, with their record.
	if im.lastSeq > 0 {
		im.s.follow.poke()
		if err := im.s.follow.waitFor(ctx, im.lastSeq); err != nil {
			return im.sum, err
		}
	}
	return im.sum, nil
}

// Abandon ends an import whose stream broke: batches already cut commit
// (or fail with the stream's context), with their records; rows of the
// batch being filled are dropped, and a last event (entry.import.abort)
// says how many rows were taken and not committed. It is safe to call
// after Finish (it then does nothing).
func (im *Importer) Abandon(ctx context.Context, cause error) {
	if im.done {
		return
	}
	im.done = true
	_ = im.collectAll() // its error is cause's consequence or beside the point now
	after := map[string]any{
		"import_id": im.id,
		"rows":      im.next,
		"imported":  im.sum.Imported,
		"updated":   im.sum.Updated,
		"rejected":  im.sum.Rejected,
		"dropped":   im.next - im.sum.Rows(),
	}
	// The record must be written even when the client's context is gone.
	// It records that nothing more changed, so it stands on its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = im.s.audit.Record(ctx, im.actor, "entry.import.abort", "blocklist", nil, after)
}
