package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// sameAsProtojson fails t unless appendEntryJSON writes e as protojson
// does (after json.Compact: protojson may add a space where it likes), and
// fails as protojson fails.
func sameAsProtojson(t *testing.T, e *callverifyv1.Entry) {
	t.Helper()
	want, wantErr := protojson.Marshal(e)
	got, err := appendEntryJSON([]byte("prefix"), e)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendEntryJSON(%v): error %v, protojson's %v", e, err, wantErr)
	}
	if err != nil {
		return
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("appendEntryJSON(%v) = %s: lost what it appended to", e, got)
	}
	got = got[len("prefix"):]
	if !bytes.Equal(compact(t, got), compact(t, want)) {
		t.Fatalf("appendEntryJSON(%v)\n = %s\nprotojson %s", e, got, want)
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out.Bytes()
}

func TestAppendEntryJSONIsProtojson(t *testing.T) {
	ts := func(s int64, n int32) *timestamppb.Timestamp { return &timestamppb.Timestamp{Seconds: s, Nanos: n} }
	full := &callverifyv1.Entry{
		EntryId: "e-1", Pattern: "+8613800138000", Kind: callverifyv1.EntryKind_ENTRY_KIND_EXACT,
		Category: callverifyv1.Category_CATEGORY_SCAM, Reason: "refund scam", Source: callverifyv1.Source_SOURCE_IMPORT,
		Confidence: 70, CreateBy: "analyst-1", CreateTime: ts(1893456000, 0), UpdateTime: ts(1893456000, 120_000_000),
		ExpireTime: ts(1893456000, 123_456_789),
	}
	for _, e := range []*callverifyv1.Entry{
		{},
		full,
		{Pattern: "+86170*", Kind: callverifyv1.EntryKind_ENTRY_KIND_PREFIX},
		{Reason: "quote \" backslash \\ slash / <html> & \b\f\n\r\t \x00 \x01 \x1f \x7f é 中文 \u2028 😀"},
		{Reason: "not UTF-8 \xff"},
		{CreateBy: "\xc3"},
		{Category: 99, Source: -1, Kind: 12345},
		{Confidence: -5},
		{Confidence: 100},
		{CreateTime: ts(0, 0), UpdateTime: ts(0, 1), ExpireTime: ts(-1, 999_999_999)},
		{CreateTime: ts(-62135596800, 0), ExpireTime: ts(253402300799, 999_000_000)},
		{CreateTime: ts(1, 1_000)},
		{CreateTime: ts(-62135596801, 0)},
		{ExpireTime: ts(253402300800, 0)},
		{UpdateTime: ts(5, -1)},
		{UpdateTime: ts(5, 1_000_000_000)},
		{Pattern: "+861", ImportRow: &callverifyv1.ImportRow{Line: 7, Json: `{"pattern":"+861"}`}},
	} {
		sameAsProtojson(t, e)
	}
}

// FuzzAppendEntryJSON: whatever the fields hold, the export writes what
// protojson writes.
//
//	go test -run '^$' -fuzz FuzzAppendEntryJSON ./cmd/callverify/
func FuzzAppendEntryJSON(f *testing.F) {
	f.Add("e-1", "+8613800138000", int32(1), int32(2), "refund \"scam\"\n", int32(3), int32(70), "a-1",
		int64(1893456000), int32(120_000_000), int64(0), int32(1), int64(-1), int32(-1), false)
	f.Add("", "", int32(0), int32(0), "\xff", int32(-4), int32(-1), "\x00", int64(-62135596801), int32(0),
		int64(253402300799), int32(999_999_999), int64(9e18), int32(2e9), true)
	f.Fuzz(func(t *testing.T, id, pattern string, kind, category int32, reason string, source, confidence int32,
		by string, cs int64, cn int32, us int64, un int32, es int64, en int32, row bool) {
		e := &callverifyv1.Entry{
			EntryId: id, Pattern: pattern, Kind: callverifyv1.EntryKind(kind), Category: callverifyv1.Category(category),
			Reason: reason, Source: callverifyv1.Source(source), Confidence: confidence, CreateBy: by,
			CreateTime: &timestamppb.Timestamp{Seconds: cs, Nanos: cn}, UpdateTime: &timestamppb.Timestamp{Seconds: us, Nanos: un},
		}
		if es != 0 || en != 0 {
			e.ExpireTime = &timestamppb.Timestamp{Seconds: es, Nanos: en}
		}
		if row {
			e.ImportRow = &callverifyv1.ImportRow{Line: cs, Json: reason}
		}
		sameAsProtojson(t, e)
	})
}

// TestAppendEntryJSONWritesEveryField: an Entry with every field of the
// message set, whatever fields it has, is written as protojson writes it.
// A field added to Entry is set here too, so this fails until
// appendEntryJSON writes it (meanwhile appendEntryJSON hands such an Entry
// to protojson, as entryFields no longer matches).
func TestAppendEntryJSONWritesEveryField(t *testing.T) {
	e := &callverifyv1.Entry{}
	m := e.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Name() == "import_row" {
			continue // an import row goes to protojson, by design
		}
		switch {
		case fd.IsList() || fd.IsMap():
			t.Fatalf("Entry.%s is a list or a map: appendEntryJSON writes neither; teach it, then this test", fd.Name())
		case fd.Kind() == protoreflect.MessageKind:
			v := m.NewField(fd)
			if fd.Message().FullName() == "google.protobuf.Timestamp" {
				v.Message().Set(fd.Message().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1893456000))
			}
			m.Set(fd, v)
		case fd.Kind() == protoreflect.EnumKind:
			m.Set(fd, protoreflect.ValueOfEnum(1))
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("x"))
		case fd.Kind() == protoreflect.BoolKind:
			m.Set(fd, protoreflect.ValueOfBool(true))
		case fd.Kind() == protoreflect.BytesKind:
			m.Set(fd, protoreflect.ValueOfBytes([]byte{1}))
		default:
			v := m.NewField(fd) // any number: make it non-zero
			switch fd.Kind() {
			case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
				v = protoreflect.ValueOfInt32(1)
			case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
				v = protoreflect.ValueOfInt64(1)
			case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
				v = protoreflect.ValueOfUint32(1)
			case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
				v = protoreflect.ValueOfUint64(1)
			case protoreflect.FloatKind:
				v = protoreflect.ValueOfFloat32(1)
			case protoreflect.DoubleKind:
				v = protoreflect.ValueOfFloat64(1)
			}
			m.Set(fd, v)
		}
	}
	sameAsProtojson(t, e)
	// And not by handing it to protojson: every field but import_row is
	// one appendEntryJSON knows.
	if n := fields.Len(); n != entryFields {
		t.Fatalf("Entry has %d fields, appendEntryJSON knows %d: write the new ones and raise entryFields", n, entryFields)
	}
}
