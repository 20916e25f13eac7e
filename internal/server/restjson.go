package server

import (
	"strconv"
	"time"
	"unicode/utf8"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// restMarshaler is the REST JSON marshaler: protojson (through the
// gateway's JSONPb) for every message, except that the answer of the
// hottest REST route, CheckCaller, is written directly: protojson walks
// the message by reflection and took a fifth of that route's server time.
// The direct writer gives the JSON protojson gives (field names, every
// field present, enums by name, timestamps in RFC 3339, null for an
// unset message), held to that by a test that decodes both. Whatever it
// cannot write exactly as protojson would (an enum value without a name,
// a string that is not UTF-8, a timestamp out of range) it leaves to
// protojson, errors included.
type restMarshaler struct {
	*gwruntime.HTTPBodyMarshaler
}

// directCheckCaller holds while the messages have exactly the fields the
// direct writer writes: a field added to the proto sends every answer to
// protojson until the writer knows it (and the writer's test fails).
var directCheckCaller = (&callverifyv1.CheckCallerResponse{}).ProtoReflect().Descriptor().Fields().Len() == 9 &&
	(&callverifyv1.Call{}).ProtoReflect().Descriptor().Fields().Len() == 14

// Marshal implements gwruntime.Marshaler.
func (m restMarshaler) Marshal(v any) ([]byte, error) {
	// A verified callback's answer is rare and nested: protojson's.
	if r, ok := v.(*callverifyv1.CheckCallerResponse); ok && directCheckCaller && r.GetCallback() == nil {
		if b, ok := appendCheckCaller(make([]byte, 0, 1024), r); ok {
			return b, nil
		}
	}
	return m.HTTPBodyMarshaler.Marshal(v)
}

func appendCheckCaller(b []byte, r *callverifyv1.CheckCallerResponse) ([]byte, bool) {
	ok := true
	b = append(b, `{"verdict":`...)
	b = appendEnum(b, callverifyv1.Verdict_name, int32(r.GetVerdict()), &ok)
	b = append(b, `,"callerNumber":`...)
	b = appendString(b, r.GetCallerNumber(), &ok)
	b = append(b, `,"call":`...)
	b = appendCall(b, r.GetCall(), &ok)
	b = append(b, `,"confirmationCode":`...)
	b = appendString(b, r.GetConfirmationCode(), &ok)
	b = append(b, `,"blocklistCategory":`...)
	b = appendEnum(b, callverifyv1.Category_name, int32(r.GetBlocklistCategory()), &ok)
	b = append(b, `,"message":`...)
	b = appendString(b, r.GetMessage(), &ok)
	b = append(b, `,"advice":[`...)
	for i, a := range r.GetAdvice() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a, &ok)
	}
	b = append(b, `],"codeExpiresAt":`...)
	b = appendTimestamp(b, r.GetCodeExpiresAt(), &ok)
	b = append(b, `,"callback":null}`...)
	return b, ok
}

func appendCall(b []byte, c *callverifyv1.Call, ok *bool) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"callId":`...)
	b = appendString(b, c.GetCallId(), ok)
	b = append(b, `,"callerNumber":`...)
	b = appendString(b, c.GetCallerNumber(), ok)
	b = append(b, `,"calleeNumber":`...)
	b = appendString(b, c.GetCalleeNumber(), ok)
	b = append(b, `,"customerId":`...)
	b = appendString(b, c.GetCustomerId(), ok)
	b = append(b, `,"reason":`...)
	b = appendEnum(b, callverifyv1.CallReason_name, int32(c.GetReason()), ok)
	b = append(b, `,"reasonText":`...)
	b = appendString(b, c.GetReasonText(), ok)
	b = append(b, `,"orderRef":`...)
	b = appendString(b, c.GetOrderRef(), ok)
	b = append(b, `,"agentId":`...)
	b = appendString(b, c.GetAgentId(), ok)
	b = append(b, `,"agentName":`...)
	b = appendString(b, c.GetAgentName(), ok)
	b = append(b, `,"state":`...)
	b = appendEnum(b, callverifyv1.CallState_name, int32(c.GetState()), ok)
	b = append(b, `,"createTime":`...)
	b = appendTimestamp(b, c.GetCreateTime(), ok)
	b = append(b, `,"expireTime":`...)
	b = appendTimestamp(b, c.GetExpireTime(), ok)
	b = append(b, `,"endTime":`...)
	b = appendTimestamp(b, c.GetEndTime(), ok)
	b = append(b, `,"callbackRequestId":`...)
	b = appendString(b, c.GetCallbackRequestId(), ok)
	return append(b, '}')
}

// appendEnum writes the value's name; a value without one is protojson's
// to write (as a number).
func appendEnum(b []byte, names map[int32]string, v int32, ok *bool) []byte {
	name, known := names[v]
	if !known {
		*ok = false
	}
	return appendString(b, name, ok)
}

// appendString escapes as protojson does: '"', '\\', control characters
// and DEL. A string that is not UTF-8 is protojson's to refuse.
func appendString(b []byte, s string, ok *bool) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				*ok = false
			}
			b = append(b, s[i:i+n]...)
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < ' ' || c == 0x7f:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// The range of google.protobuf.Timestamp: 0001-01-01 to 9999-12-31.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// appendTimestamp writes RFC 3339 in UTC with 0, 3, 6 or 9 fractional
// digits, as protojson does; null when unset.
func appendTimestamp(b []byte, t *timestamppb.Timestamp, ok *bool) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	secs, nanos := t.GetSeconds(), t.GetNanos()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos >= 1e9 {
		*ok = false
		return b
	}
	b = append(b, '"')
	b = time.Unix(secs, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	switch {
	case nanos == 0:
	case nanos%1e6 == 0:
		b = appendFraction(b, int64(nanos/1e6), 3)
	case nanos%1e3 == 0:
		b = appendFraction(b, int64(nanos/1e3), 6)
	default:
		b = appendFraction(b, int64(nanos), 9)
	}
	return append(b, 'Z', '"')
}

func appendFraction(b []byte, v int64, digits int) []byte {
	b = append(b, '.')
	s := strconv.FormatInt(v, 10)
	for range digits - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}
