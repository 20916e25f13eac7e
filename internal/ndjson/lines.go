// Package ndjson cuts newline-delimited JSON into rows for bulk imports. The
// REST import and the command-line tool both read through it, so the same
// file is the same rows, with the same line numbers, on either path.
//
// It never parses JSON: the server judges each row.
package ndjson

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLine bounds one line; an entry is far smaller.
const MaxLine = 64 << 10

// TooLong is the reason given for a line longer than MaxLine.
const TooLong = "the line is longer than 64 KiB"

// Lines reads one line at a time and never holds more than MaxLine bytes of
// one.
type Lines struct {
	r    *bufio.Reader
	line int64
}

// NewLines reads lines from r.
func NewLines(r io.Reader) *Lines {
	return &Lines{r: bufio.NewReaderSize(r, MaxLine+2)}
}

var bom = []byte("\ufeff")

// Next returns the next line that is not blank, its 1-based number, and
// whether it was longer than MaxLine (text is then nil and the line is
// skipped). text is valid until the next call. At the end it returns io.EOF.
func (l *Lines) Next() (line int64, text []byte, tooLong bool, err error) {
	for {
		b, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			l.line++
			if err := l.skipLine(); err != nil && !errors.Is(err, io.EOF) {
				return l.line, nil, true, err
			}
			return l.line, nil, true, nil
		}
		if len(b) == 0 && err != nil {
			return l.line, nil, false, err
		}
		l.line++
		if l.line == 1 {
			b = bytes.TrimPrefix(b, bom)
		}
		t := bytes.TrimRight(b, "\r\n")
		if len(t) > MaxLine {
			return l.line, nil, true, nil
		}
		if len(bytes.TrimSpace(t)) > 0 {
			return l.line, t, false, nil
		}
		if err != nil {
			return l.line, nil, false, err
		}
	}
}

// skipLine reads up to and including the next newline.
func (l *Lines) skipLine() error {
	for {
		_, err := l.r.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
