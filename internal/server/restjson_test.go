package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

func newRESTMarshalers() (fast restMarshaler, slow *gwruntime.HTTPBodyMarshaler) {
	slow = &gwruntime.HTTPBodyMarshaler{Marshaler: &gwruntime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}}
	return restMarshaler{slow}, slow
}

func checkCallerSamples() map[string]*callverifyv1.CheckCallerResponse {
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	ts := func(secs int64, nanos int32) *timestamppb.Timestamp {
		return &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}
	}
	call := func() *callverifyv1.Call {
		return &callverifyv1.Call{
			CallId: "c0ffee", CallerNumber: "+864008008888", CalleeNumber: "+8613800138000", CustomerId: "cust-1",
			Reason: callverifyv1.CallReason_CALL_REASON_REFUND, ReasonText: "Refund", OrderRef: "o-1", AgentId: "a-7", AgentName: "Wang",
			State: callverifyv1.CallState_CALL_STATE_ACTIVE, CreateTime: timestamppb.New(at), ExpireTime: timestamppb.New(at.Add(10 * time.Minute)),
		}
	}
	withTimes := func(create, expire, end *timestamppb.Timestamp) *callverifyv1.Call {
		c := call()
		c.CreateTime, c.ExpireTime, c.EndTime = create, expire, end
		return c
	}
	return map[string]*callverifyv1.CheckCallerResponse{
		"empty": {},
		"verified": {
			Verdict: callverifyv1.Verdict_VERDICT_VERIFIED, CallerNumber: "+864008008888", Call: call(),
			ConfirmationCode: "123456", CodeExpiresAt: timestamppb.New(at.Add(30 * time.Second)),
			Message: "This call is from Customer service.", Advice: []string{"Hang up if in doubt.", "Never share a code."},
		},
		"known fraud": {Verdict: callverifyv1.Verdict_VERDICT_KNOWN_FRAUD, BlocklistCategory: callverifyv1.Category_CATEGORY_SCAM, Message: "scam", Advice: []string{}},
		"text that needs escaping": {
			Message: "quote \" backslash \\ newline \n tab \t cr \r bell \a nul \x00 del \x7f <b>&amp;</b> \u2028\u2029 é 中文 😀",
			Advice:  []string{"\x1f", `\u0041`, ""},
		},
		"fractions of a second": {Call: withTimes(ts(1, 5e8), ts(2, 123456000), ts(3, 123456789)), CodeExpiresAt: ts(4, 1)},
		"the ends of the range": {Call: withTimes(ts(minTimestampSeconds, 0), ts(maxTimestampSeconds, 999999999), ts(0, 0))},
	}
}

// TestRESTMarshalerWritesWhatProtojsonWrites: the direct writer of the
// CheckCaller answer gives the JSON value protojson gives (compared
// decoded, as protojson's own spacing varies), which reads back into the
// same message.
func TestRESTMarshalerWritesWhatProtojsonWrites(t *testing.T) {
	t.Parallel()
	fast, slow := newRESTMarshalers()
	for name, r := range checkCallerSamples() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, ok := appendCheckCaller(nil, r); !ok {
				t.Fatal("the direct writer declined a message it must write")
			}
			got, err := fast.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			want, err := slow.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(want, &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Fatalf("direct writer:\n%s\nprotojson:\n%s", got, want)
			}
			back := &callverifyv1.CheckCallerResponse{}
			if err := protojson.Unmarshal(got, back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, r) {
				t.Fatalf("read back %v, want %v", back, r)
			}
		})
	}
}

// TestRESTMarshalerLeavesToProtojsonWhatItCannotWrite: an enum value
// without a name, a string that is not UTF-8 and a timestamp out of range
// get protojson's answer (a number, or protojson's error), and every other
// message goes to protojson.
func TestRESTMarshalerLeavesToProtojsonWhatItCannotWrite(t *testing.T) {
	t.Parallel()
	fast, slow := newRESTMarshalers()
	for name, r := range map[string]*callverifyv1.CheckCallerResponse{
		"unnamed enum value":             {Verdict: 99},
		"unnamed enum value in the call": {Call: &callverifyv1.Call{State: 42}},
		"not UTF-8":                      {Message: "a\xffb"},
		"timestamp out of range":         {CodeExpiresAt: &timestamppb.Timestamp{Seconds: maxTimestampSeconds + 1}},
		"nanos out of range":             {Call: &callverifyv1.Call{EndTime: &timestamppb.Timestamp{Nanos: 1e9}}},
	} {
		if _, ok := appendCheckCaller(nil, r); ok {
			t.Errorf("%s: the direct writer accepted it", name)
		}
		got, gotErr := fast.Marshal(r)
		want, wantErr := slow.Marshal(r)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: error %v, protojson's %v", name, gotErr, wantErr)
			continue
		}
		var gotV, wantV any
		_ = json.Unmarshal(got, &gotV)
		_ = json.Unmarshal(want, &wantV)
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%s: wrote %s, protojson %s", name, got, want)
		}
	}
	other := &callverifyv1.LookupNumberResponse{Number: "+864008008888", Message: "m"}
	got, err := fast.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"blocklistCategory"`) {
		t.Errorf("another message was not written by protojson with every field: %s", got)
	}
}

// TestRESTMarshalerWritesCheckCallerCheaply: the CheckCaller answer costs
// one buffer, not protojson's few dozen allocations.
//
// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestRESTMarshalerWritesCheckCallerCheaply(t *testing.T) {
	fast, _ := newRESTMarshalers()
	r := checkCallerSamples()["verified"]
	if got := testing.AllocsPerRun(50, func() { _, _ = fast.Marshal(r) }); got > 1 {
		t.Fatalf("Marshal of a CheckCaller answer: %.0f allocations, want at most 1", got)
	}
}
