package main

import (
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// appendEntryJSON appends e as protojson.Marshal writes it (proto3 JSON:
// lowerCamelCase names in field order, zero values left out, enums by name,
// timestamps in RFC 3339 UTC with 0, 3, 6 or 9 fractional digits), without
// protojson's whitespace. An export writes a million of these; protojson
// reflects over every field of every one, which made an NDJSON export take
// twice as long as a CSV one. Anything this does not write the way protojson
// does (an import_row, a string that is not UTF-8, a timestamp out of
// protojson's range) goes to protojson itself, so the answer is always
// protojson's (TestAppendEntryJSONIsProtojson, FuzzAppendEntryJSON). So is
// an Entry with fields this does not know (entryFields): a field added to
// the message is written by protojson, never silently left out, until this
// writes it too (TestAppendEntryJSONWritesEveryField).
func appendEntryJSON(out []byte, e *callverifyv1.Entry) ([]byte, error) {
	if e.ProtoReflect().Descriptor().Fields().Len() != entryFields || e.GetImportRow() != nil ||
		!validTimestamp(e.GetCreateTime()) || !validTimestamp(e.GetUpdateTime()) || !validTimestamp(e.GetExpireTime()) {
		return protojson.MarshalOptions{}.MarshalAppend(out, e)
	}
	start := len(out)
	j := jsonObject{out: append(out, '{')}
	j.str("entryId", e.GetEntryId())
	j.str("pattern", e.GetPattern())
	j.enum("kind", int32(e.GetKind()), callverifyv1.EntryKind_name)
	j.enum("category", int32(e.GetCategory()), callverifyv1.Category_name)
	j.str("reason", e.GetReason())
	j.enum("source", int32(e.GetSource()), callverifyv1.Source_name)
	if c := e.GetConfidence(); c != 0 {
		j.out = strconv.AppendInt(j.key("confidence"), int64(c), 10)
	}
	j.str("createBy", e.GetCreateBy())
	j.time("createTime", e.GetCreateTime())
	j.time("updateTime", e.GetUpdateTime())
	j.time("expireTime", e.GetExpireTime())
	if j.invalid {
		return protojson.MarshalOptions{}.MarshalAppend(out[:start], e)
	}
	return append(j.out, '}'), nil
}

// entryFields is how many fields of callverifyv1.Entry appendEntryJSON
// knows: the eleven it writes and import_row, which goes to protojson.
const entryFields = 12

// jsonObject appends an object's members.
type jsonObject struct {
	out     []byte
	more    bool // a member was written: the next needs a comma
	invalid bool // a string was not UTF-8
}

func (j *jsonObject) key(name string) []byte {
	if j.more {
		j.out = append(j.out, ',')
	}
	j.more = true
	j.out = append(j.out, '"')
	j.out = append(j.out, name...)
	return append(j.out, '"', ':')
}

func (j *jsonObject) str(name, v string) {
	if v == "" {
		return
	}
	if !utf8.ValidString(v) {
		j.invalid = true
		return
	}
	j.out = appendJSONString(j.key(name), v)
}

func (j *jsonObject) enum(name string, v int32, names map[int32]string) {
	if v == 0 {
		return
	}
	if s, ok := names[v]; ok {
		j.out = append(append(append(j.key(name), '"'), s...), '"')
		return
	}
	j.out = strconv.AppendInt(j.key(name), int64(v), 10)
}

func (j *jsonObject) time(name string, t *timestamppb.Timestamp) {
	if t == nil {
		return
	}
	j.out = append(appendProtoTime(append(j.key(name), '"'), t), '"')
}

// validTimestamp reports whether protojson writes t (nil: it is left out):
// 0001-01-01 to 9999-12-31 UTC, nanos in [0, 1e9).
func validTimestamp(t *timestamppb.Timestamp) bool {
	if t == nil {
		return true
	}
	s, n := t.GetSeconds(), t.GetNanos()
	return s >= -62135596800 && s <= 253402300799 && n >= 0 && n < 1e9
}

// appendProtoTime appends t as protojson does: RFC 3339 in UTC, the
// fraction with 0, 3, 6 or 9 digits, and Z.
func appendProtoTime(out []byte, t *timestamppb.Timestamp) []byte {
	tm := time.Unix(t.GetSeconds(), int64(t.GetNanos())).UTC()
	out = tm.AppendFormat(out, "2006-01-02T15:04:05")
	if n := t.GetNanos(); n != 0 {
		frac := strconv.AppendInt(nil, int64(n)+1e9, 10)[1:] // 9 digits
		switch {
		case n%1e6 == 0:
			frac = frac[:3]
		case n%1e3 == 0:
			frac = frac[:6]
		}
		out = append(append(out, '.'), frac...)
	}
	return append(out, 'Z')
}

// appendJSONString appends s, valid UTF-8, quoted as protojson quotes it:
// only '"', '\\' and control characters escaped, as \b \f \n \r \t or
// \u00XX in lower-case hex; everything else as it is.
func appendJSONString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	from := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[from:i]...)
		from = i + 1
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
	}
	out = append(out, s[from:]...)
	return append(out, '"')
}
