package server

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// TestEntryJSONIsProtojson: the export's own encoder writes what protojson
// reads back as the same entry, for every field and every awkward value,
// and its timestamps in protojson's spelling.
func TestEntryJSONIsProtojson(t *testing.T) {
	t.Parallel()
	at := func(sec int64, nanos int32) *timestamppb.Timestamp {
		return &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}
	}
	entries := []*callverifyv1.Entry{
		{},
		{Pattern: "+8613800138000", Category: callverifyv1.Category_CATEGORY_SCAM},
		{
			EntryId: "00000000000000a1", Pattern: "+86170*", Kind: callverifyv1.EntryKind_ENTRY_KIND_PREFIX,
			Category: callverifyv1.Category_CATEGORY_ROBOCALL, Reason: `退款 "诈骗" \ 脚本 <b>&amp; tab	end ` + "\x01\x7f\u2028 😀 \xff",
			Source: callverifyv1.Source_SOURCE_IMPORT, Confidence: 100, CreateBy: "analyst-1",
			CreateTime: at(1764147600, 0), UpdateTime: at(1764147600, 123000000), ExpireTime: at(1893456000, 123456789),
		},
		{Confidence: -5, UpdateTime: at(0, 1000), ExpireTime: at(-1, 0)},
	}
	for _, e := range entries {
		b := appendEntryJSON(nil, e)
		var got callverifyv1.Entry
		if err := protojson.Unmarshal(b, &got); err != nil {
			t.Fatalf("protojson cannot read %s: %v", b, err)
		}
		want := proto.Clone(e).(*callverifyv1.Entry)
		want.Reason = string([]rune(want.Reason)) // an invalid byte is written as U+FFFD
		if !proto.Equal(&got, want) {
			t.Errorf("%s reads back as %v, want %v", b, &got, want)
		}
	}
	// Timestamps are spelt as protojson spells them.
	for _, ts := range []*timestamppb.Timestamp{at(1764147600, 0), at(1764147600, 120000000), at(1764147600, 123400), at(1764147600, 5)} {
		pj, err := protojson.Marshal(ts)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := `"`+formatTimestamp(ts)+`"`, string(pj); got != want {
			t.Errorf("timestamp %v = %s, want protojson's %s", ts, got, want)
		}
	}
	// A field added to Entry must be added to the encoder: this list is
	// what it writes.
	written := map[protoreflect.Name]bool{"entry_id": true, "pattern": true, "kind": true, "category": true, "reason": true,
		"source": true, "confidence": true, "create_by": true, "create_time": true, "update_time": true, "expire_time": true,
		"import_row": true /* never exported */}
	fields := (&callverifyv1.Entry{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); !written[f.Name()] {
			t.Errorf("Entry field %s is not written by appendEntryJSON", f.Name())
		}
	}
}
