package server

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// sameCheckCallerRequest fails t unless the REST marshaler decodes body
// into the CheckCallerRequest the gateway's JSONPb decodes, or fails as it
// fails, and reports whether the direct reader took it.
func sameCheckCallerRequest(t *testing.T, body []byte) bool {
	t.Helper()
	fast, slow := newRESTMarshalers()
	var got, want callverifyv1.CheckCallerRequest
	err := fast.NewDecoder(bytes.NewReader(body)).Decode(&got)
	wantErr := slow.NewDecoder(bytes.NewReader(body)).Decode(&want)
	// The gateway takes io.EOF (an empty body) for an empty request.
	if (err != nil && !errors.Is(err, io.EOF)) != (wantErr != nil && !errors.Is(wantErr, io.EOF)) {
		t.Fatalf("body %q: error %v, JSONPb's %v", body, err, wantErr)
	}
	if wantErr == nil && !proto.Equal(&got, &want) {
		t.Fatalf("body %q: decoded %v, JSONPb %v", body, &got, &want)
	}
	var direct callverifyv1.CheckCallerRequest
	return decodeCheckCaller(body, &direct)
}

func TestCheckCallerRequestIsProtojsons(t *testing.T) {
	for _, b := range []string{
		`{"callerNumber":"+864008008888"}`,
		`{"callerNumber":"+864008008888","language":"en"}`,
		`{"language":"zh-CN","callerNumber":"021 6888 8888"}`,
		" {\n\t\"callerNumber\" : \"+86 400 800 8888\" ,\r\n \"language\":\"\" } ",
		`{}`, `{"callerNumber":""}`, `{"callerNumber":"中文 😀"}`,
	} {
		if !sameCheckCallerRequest(t, []byte(b)) {
			t.Errorf("%s: not read directly", b)
		}
	}
	for _, b := range []string{
		``, ` `, `null`, `[]`, `"x"`, `{`, `{"callerNumber"}`, `{"callerNumber":}`, `{"callerNumber":"a",}`,
		`{"caller_number":"+864008008888"}`, `{"callerNumber":"a","callerNumber":"b"}`, `{"callerNumber":null}`,
		`{"callerNumber":1}`, `{"callerNumber":"\u002b86"}`, `{"callerNumber":"a\nb"}`, "{\"callerNumber\":\"\xff\"}",
		`{"callerNumber":"a"} trailing`, `{"callerNumber":"a"}{}`, `{"other":"x"}`, `{"language":"en","language":"zh-CN"}`,
	} {
		if sameCheckCallerRequest(t, []byte(b)) {
			t.Errorf("%q: read directly, want it left to JSONPb", b)
		}
	}
}

// FuzzCheckCallerRequest: whatever the body, the REST marshaler decodes a
// CheckCaller request as the gateway's JSONPb does.
//
//	go test -run '^$' -fuzz FuzzCheckCallerRequest ./internal/server/
func FuzzCheckCallerRequest(f *testing.F) {
	f.Add([]byte(`{"callerNumber":"+864008008888","language":"en"}`))
	f.Add([]byte(` { "language" : "zh-CN" } `))
	f.Add([]byte(`{"caller_number":"1","x":[1,2]}`))
	f.Fuzz(func(t *testing.T, body []byte) { sameCheckCallerRequest(t, body) })
}
