package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// csvColumns returns the CSV layout of export, and what import reads (by header
// name, in any order; only pattern and category are required). Export
// neutralises cells that a spreadsheet would run as formulas, and import
// undoes that (see neutralise), so an export imports back as it is.
// A function, not a variable: a caller may keep or change the slice it gets.
func csvColumns() []string {
	return []string{"pattern", "category", "reason", "confidence", "expire_time",
		"source", "entry_id", "kind", "create_by", "create_time", "update_time"}
}

type csvRows struct {
	r    *csv.Reader
	cols map[string]int
}

func newCSVRows(r io.Reader) (*csvRows, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read the CSV header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		cols[h] = i
	}
	for _, need := range []string{"pattern", "category"} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("the CSV header has no %q column (want %s)", need, strings.Join(csvColumns()[:5], ","))
		}
	}
	return &csvRows{r: cr, cols: cols}, nil
}

func (c *csvRows) next() (*callverifyv1.Entry, int, error) {
	rec, err := c.r.Read()
	if err != nil {
		// A record that does not parse has no field positions: asking
		// for them would panic (an unterminated quote did).
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, &rowError{pe.StartLine, pe.Err.Error()}
		}
		return nil, 0, err
	}
	line, _ := c.r.FieldPos(0)
	get := func(col string) string {
		if i, ok := c.cols[col]; ok && i < len(rec) {
			return unneutralise(strings.TrimSpace(rec[i]))
		}
		return ""
	}
	e := &callverifyv1.Entry{Pattern: get("pattern"), Reason: get("reason")}
	if v := get("category"); v != "" {
		if e.Category, err = category("category", v); err != nil {
			return nil, line, &rowError{line, err.Error()}
		}
	}
	if v := get("source"); v != "" {
		if e.Source, err = source("source", v); err != nil {
			return nil, line, &rowError{line, err.Error()}
		}
	}
	if v := get("confidence"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, line, &rowError{line, fmt.Sprintf("confidence %q is not a whole number", v)}
		}
		e.Confidence = int32(n)
	}
	if v := get("expire_time"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, line, &rowError{line, fmt.Sprintf("expire_time %q is not an RFC 3339 time", v)}
		}
		e.ExpireTime = timestamppb.New(t)
	}
	return e, line, nil
}

type csvExport struct{ w *csv.Writer }

func ts(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339Nano)
}

func (c csvExport) write(e *callverifyv1.Entry) error {
	rec := []string{e.GetPattern(), e.GetCategory().String(), e.GetReason(), strconv.Itoa(int(e.GetConfidence())),
		ts(e.GetExpireTime()), e.GetSource().String(), e.GetEntryId(), e.GetKind().String(), e.GetCreateBy(),
		ts(e.GetCreateTime()), ts(e.GetUpdateTime())}
	for i, cell := range rec {
		if i == 0 && plainPattern(cell) {
			continue
		}
		rec[i] = neutralise(cell)
	}
	return c.w.Write(rec)
}

// formulaStarts are the first characters that make a spreadsheet take a
// cell for a formula (OWASP, CSV injection): = + - @, TAB and CR, and LF.
const formulaStarts = "=+-@\t\r\n"

// neutralise makes an exported cell safe to open in a spreadsheet: a cell
// that starts like a formula gets a leading single quote, which makes it
// text. So that import can undo it exactly, a cell that is one or more
// quotes followed by such a start gets one more quote too.
func neutralise(cell string) string {
	if formulaLike(cell) {
		return "'" + cell
	}
	return cell
}

// unneutralise undoes neutralise: it drops the quote that neutralise (or a
// spreadsheet user keeping "+86..." as text) put before a formula-like
// start, and leaves every other cell as it is.
func unneutralise(cell string) string {
	if strings.HasPrefix(cell, "'") && formulaLike(cell[1:]) {
		return cell[1:]
	}
	return cell
}

// formulaLike reports whether s, after any leading single quotes, starts
// with a formula character.
func formulaLike(s string) bool {
	t := strings.TrimLeft(s, "'")
	return t != "" && strings.IndexByte(formulaStarts, t[0]) >= 0
}

// plainPattern reports a pattern of '+', digits and an optional final
// '*': the only patterns the server stores. It is written as it is, so
// that "+8613800138000" stays readable and imports back; it cannot hold a
// formula.
func plainPattern(p string) bool {
	if len(p) < 2 || p[0] != '+' {
		return false
	}
	d := strings.TrimSuffix(p[1:], "*")
	if d == "" {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

func (c csvExport) flush() error { c.w.Flush(); return c.w.Error() }
