package server

import (
	"bytes"
	"io"
	"unicode/utf8"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// directCheckCallerRequest holds while CheckCallerRequest has exactly the
// two fields decodeCheckCaller reads: a field added to the proto sends
// every request to protojson until decodeCheckCaller knows it.
var directCheckCallerRequest = (&callverifyv1.CheckCallerRequest{}).ProtoReflect().Descriptor().Fields().Len() == 2

// NewDecoder implements gwruntime.Marshaler. The body of a CheckCaller
// request, the customers' hot path, is read directly when it is the plain
// object clients send ({"callerNumber":"+86...","language":"en"}); reading
// it through the gateway's JSONPb (encoding/json, then protojson) was 6%
// of the route's server CPU. Any other body (field names in proto form,
// escapes, null, duplicates, trailing text) goes to JSONPb as it came, so
// the request, or the error, is protojson's (TestCheckCallerRequestIsProtojsons).
func (m restMarshaler) NewDecoder(r io.Reader) gwruntime.Decoder {
	return gwruntime.DecoderFunc(func(v any) error {
		if req, ok := v.(*callverifyv1.CheckCallerRequest); ok && directCheckCallerRequest {
			// The body is bounded by limitBody.
			body, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if decodeCheckCaller(body, req) {
				return nil
			}
			r = bytes.NewReader(body)
		}
		return m.HTTPBodyMarshaler.NewDecoder(r).Decode(v)
	})
}

// decodeCheckCaller sets req from b when b is a JSON object of at most
// callerNumber and language (each once), whose values are strings without
// escapes or control characters, in UTF-8, with only JSON whitespace
// around the tokens. It reports false, leaving req as it was, otherwise.
func decodeCheckCaller(b []byte, req *callverifyv1.CheckCallerRequest) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	var caller, language string
	var seenCaller, seenLanguage bool
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b) && setCheckCaller(req, caller, language)
	}
	for {
		key, next, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		val, next, ok := plainString(b, skipSpace(b, i+1))
		if !ok {
			return false
		}
		switch {
		case key == "callerNumber" && !seenCaller:
			caller, seenCaller = val, true
		case key == "language" && !seenLanguage:
			language, seenLanguage = val, true
		default:
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case '}':
			return skipSpace(b, i+1) == len(b) && setCheckCaller(req, caller, language)
		case ',':
			i = skipSpace(b, i+1)
		default:
			return false
		}
	}
}

func setCheckCaller(req *callverifyv1.CheckCallerRequest, caller, language string) bool {
	req.CallerNumber, req.Language = caller, language
	return true
}

// plainString reads the string at b[i:]: it must be quoted, in UTF-8,
// without backslashes or control characters. next is just past it.
func plainString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			v := b[i+1 : j]
			if !utf8.Valid(v) {
				return "", 0, false
			}
			return string(v), j + 1, true
		case c == '\\' || c < ' ':
			return "", 0, false
		}
	}
	return "", 0, false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
