package blocklist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	// queue takes the batches cut, in order, to the committer.
	queue chan *flight
	// lastSeq is the last change a counted batch made.
	lastSeq uint64
	spare   [][]pendingRow
}

const (
	// importGroup is how many batches the committer hands a BatchImporter
	// at once, at most: those judged by the time the store is free. On the
	// embedded store a group is one transaction (until it has dirtied the
	// store's ImportTxPages) that rewrites the pages its scattered rows
	// touch, so larger groups make fewer rewrites (BenchmarkImport, 1M
	// rows: 79-87k rows/s at 32, 102k at 64, 106k at 128). A group's
	// changes stay well inside the embedded store's change log (100,000),
	// so that the index follows them without a reload. On Redis a group is
	// one round trip for its reads; the harness's imports there measured
	// the same at 32 and 64 (20k rows/s).
	importGroup = 64
	// importDepth is how many batches an import holds at once besides
	// the one being filled: batches being judged while older ones commit,
	// so that a whole group can wait judged while the one before it
	// commits (with room for only 8 more, groups settled near 20 batches
	// and a bulk import made half as many transactions again). It bounds
	// an import's memory: some 128,000 rows held.
	importDepth = 2 * importGroup
)

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

// flight is a batch cut from the stream: judged on its own goroutine,
// then committed by the import's committer, in order.
type flight struct {
	ctx   context.Context
	num   int   // batch number, from 1
	first int64 // stream index of rows[0]
	rows  []pendingRow
	final bool

	// Set by judge before judged closes.
	judged chan struct{}
	sorted []Entry // the valid rows in key order
	order  []int   // order[k]: index in valid rows of sorted[k]
	pos    []int   // pos[j]: index in rows of valid row j
	bad    []ImportError
	ev     audit.Event

	// Set by the committer before done closes.
	done      chan struct{}
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

// cut hands the batch being filled to a goroutine that judges it and then
// to the committer, once fewer than importDepth batches are held. The last
// batch (final) is cut even when empty: its event says the import is done.
func (im *Importer) cut(ctx context.Context, final bool) error {
	if len(im.rows) == 0 && !final {
		return nil
	}
	for len(im.flights) >= importDepth {
		if err := im.collect(); err != nil {
			return err
		}
	}
	if im.queue == nil {
		im.queue = make(chan *flight, importDepth)
		go im.commit(im.queue)
	}
	im.batchNum++
	f := &flight{
		ctx: ctx, num: im.batchNum, first: im.next - int64(len(im.rows)), rows: im.rows, final: final,
		judged: make(chan struct{}), done: make(chan struct{}),
	}
	go im.judgeBatch(f)
	im.flights = append(im.flights, f)
	im.queue <- f
	if n := len(im.spare); n > 0 {
		im.rows, im.spare = im.spare[n-1][:0], im.spare[:n-1]
	} else {
		im.rows = make([]pendingRow, 0, ImportBatch)
	}
	return nil
}

// judgeBatch reads and validates f's rows, sorts the valid ones by pattern
// and writes the batch's event.
func (im *Importer) judgeBatch(f *flight) {
	defer close(f.judged)
	now := im.s.clock()
	// A batch's rows often share a reason, whose text policy (a link
	// check) costs more than the rest of the row: it is judged once per
	// distinct text.
	reasons := map[string]reasonVerdict{}
	valid := make([]Entry, 0, len(f.rows))
	f.pos = make([]int, 0, len(f.rows))
	invalid := 0
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
			invalid++
			f.bad = im.reject(f.bad, f.first+int64(i), r.line, err)
			continue
		}
		valid = append(valid, e)
		f.pos = append(f.pos, i)
	}
	f.rejected = int64(invalid)
	// Key order: the store finds and writes neighbouring keys together.
	// The sort is stable, so rows of one pattern keep their stream order
	// and the last one wins, as it would row by row.
	f.order = make([]int, len(valid))
	for i := range f.order {
		f.order[i] = i
	}
	slices.SortStableFunc(f.order, func(a, b int) int { return strings.Compare(valid[a].Pattern, valid[b].Pattern) })
	f.sorted = make([]Entry, len(valid))
	for k, j := range f.order {
		f.sorted[k] = valid[j]
	}
	after := map[string]any{
		"import_id":   im.id,
		"batch":       f.num,
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
	f.ev = im.s.audit.Event(im.actor, "entry.import", "blocklist", nil, after)
}

// commit is the import's committer: it takes the batches in order and
// commits each once judged, together with the batches after it that are
// judged by then when the store is a BatchImporter. After a batch fails,
// none after it commits, so what an import committed is always its first
// batches.
func (im *Importer) commit(queue <-chan *flight) {
	bi, _ := im.s.store.(BatchImporter)
	var failed error
	var next *flight // taken from the queue, not yet committed
	for {
		f := next
		next = nil
		if f == nil {
			var ok bool
			if f, ok = <-queue; !ok {
				return
			}
		}
		<-f.judged
		group := []*flight{f}
	gather:
		for bi != nil && len(group) < importGroup {
			select {
			case g, ok := <-queue:
				if !ok {
					break gather
				}
				select {
				case <-g.judged:
					group = append(group, g)
				default:
					next = g
					break gather
				}
			default:
				break gather
			}
		}
		if failed == nil {
			failed = im.commitGroup(bi, group)
		} else {
			for _, g := range group {
				g.err = failed
			}
		}
		for _, g := range group {
			close(g.done)
		}
	}
}

// commitGroup commits the batches of group, through bi when the store is
// a BatchImporter, and returns the error that stopped it.
func (im *Importer) commitGroup(bi BatchImporter, group []*flight) error {
	ctx := group[0].ctx
	now := im.s.clock()
	var results []ImportBatchResult
	var err error
	if bi != nil {
		batches := make([]ImportBatchInput, len(group))
		for i, g := range group {
			batches[i] = ImportBatchInput{Entries: g.sorted, Event: g.ev}
		}
		results, err = bi.ImportEntryBatches(ctx, batches, now)
	} else {
		var r ImportBatchResult
		r.Outcomes, r.Changes, err = im.s.store.ImportEntries(ctx, group[0].sorted, now, group[0].ev)
		if err == nil {
			results = []ImportBatchResult{r}
		}
	}
	for i, g := range group {
		if i >= len(results) {
			g.err = err
			if g.err == nil {
				g.err = fmt.Errorf("blocklist: the store committed %d of %d import batches", len(results), len(group))
			}
			continue
		}
		im.account(g, results[i])
	}
	if len(results) > 0 {
		im.s.follow.poke()
	}
	if err == nil && len(results) < len(group) {
		err = group[len(results)].err
	}
	return err
}

// account counts a committed batch's outcomes, back in row order and
// merged with the rows rejected before the store, so that errors are
// listed by index.
func (im *Importer) account(f *flight, r ImportBatchResult) {
	f.committed = true
	for _, c := range r.Changes {
		f.lastSeq = max(f.lastSeq, c.Seq)
	}
	rowOut := make([]*ImportOutcome, len(f.rows))
	for k, j := range f.order {
		if k < len(r.Outcomes) {
			rowOut[f.pos[j]] = &r.Outcomes[k]
		}
	}
	var refused []ImportError
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
				err = fault.Precondition("pattern " + f.rows[i].e.Pattern + " would match the official number " +
					c.Number.String() + ", which must never be blocked")
			}
			refused = im.reject(refused, f.first+int64(i), f.rows[i].line, err)
		}
	}
	f.errs = mergeErrors(f.bad, refused)
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

// collectAll counts every batch held and returns the first error. No
// batch is cut after it: the committer ends.
func (im *Importer) collectAll() error {
	if im.queue != nil {
		close(im.queue)
		im.queue = nil
	}
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
