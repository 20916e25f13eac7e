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

// csvColumns is the CSV layout of export, and what import reads (by header
// name, in any order; only pattern and category are required).
var csvColumns = []string{"pattern", "category", "reason", "confidence", "expire_time",
	"source", "entry_id", "kind", "create_by", "create_time", "update_time"}

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
			return nil, fmt.Errorf("the CSV header has no %q column (want %s)", need, strings.Join(csvColumns[:5], ","))
		}
	}
	return &csvRows{r: cr, cols: cols}, nil
}

func (c *csvRows) next() (*callverifyv1.Entry, int, error) {
	rec, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.Line, &rowError{pe.Line, pe.Err.Error()}
		}
		return nil, line, err
	}
	get := func(col string) string {
		if i, ok := c.cols[col]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
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
	return c.w.Write([]string{e.GetPattern(), e.GetCategory().String(), e.GetReason(), strconv.Itoa(int(e.GetConfidence())),
		ts(e.GetExpireTime()), e.GetSource().String(), e.GetEntryId(), e.GetKind().String(), e.GetCreateBy(),
		ts(e.GetCreateTime()), ts(e.GetUpdateTime())})
}

func (c csvExport) flush() error { c.w.Flush(); return c.w.Error() }
