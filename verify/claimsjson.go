package verify

import (
	"strconv"
	"unicode/utf8"
)

// decodeClaims decodes the claims of a call token as json.Unmarshal into a
// jwt.MapClaims does (objects as map[string]any, arrays as []any, numbers
// as float64), for the JSON our own signer writes: RFC 8225 canonical form,
// with no whitespace, objects, arrays of strings, strings without escapes
// and non-negative integers. ok is false for anything else (an escape, a
// fraction, a literal, a space, a string that is not UTF-8, deep nesting),
// which json.Unmarshal then decodes. VerifyToken decodes the claims of
// every token it checks; encoding/json's reflection was 6.3% of the
// process's CPU in BenchmarkHotPaths/VerifyToken/grpc (2.1% after).
// FuzzDecodeClaims checks the two agree.
func decodeClaims(b []byte) (map[string]any, bool) {
	d := claimsDecoder{b: b}
	m, ok := d.object(0)
	if !ok || d.i != len(b) {
		return nil, false
	}
	return m, true
}

// maxClaimsDepth is the deepest nesting decodeClaims reads: the claims,
// and objects and arrays in them (orig, dest and its tn, rcd).
const maxClaimsDepth = 3

type claimsDecoder struct {
	b []byte
	i int
}

func (d *claimsDecoder) next(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *claimsDecoder) object(depth int) (map[string]any, bool) {
	if depth >= maxClaimsDepth || !d.next('{') {
		return nil, false
	}
	m := make(map[string]any, 12)
	if d.next('}') {
		return m, true
	}
	for {
		k, ok := d.string()
		if !ok || !d.next(':') {
			return nil, false
		}
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		if d.next('}') {
			return m, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

func (d *claimsDecoder) array(depth int) ([]any, bool) {
	if depth >= maxClaimsDepth || !d.next('[') {
		return nil, false
	}
	a := []any{}
	if d.next(']') {
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if d.next(']') {
			return a, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

func (d *claimsDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.string()
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c >= '0' && c <= '9':
		return d.number()
	}
	return nil, false
}

// string reads a string without escapes or control characters, in UTF-8.
func (d *claimsDecoder) string() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < ' ':
			return "", false
		}
	}
	return "", false
}

// number reads a non-negative integer: 0, or digits not starting with 0.
func (d *claimsDecoder) number() (float64, bool) {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	digits := d.b[start:d.i]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	if d.i < len(d.b) {
		if c := d.b[d.i]; c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(digits), 64)
	return f, err == nil
}
