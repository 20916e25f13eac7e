package ndjson_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/ndjson"
)

func TestLinesNumbersEveryLineAndSkipsBlankAndLongOnes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", ndjson.MaxLine+10)
	in := "\ufeff{\"a\":1}\r\n\n   \n" + long + "\n{\"b\":2}\n" + long + "\n{\"c\":3}"
	l := ndjson.NewLines(strings.NewReader(in))
	var got []string
	for {
		n, text, tooLong, err := l.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s:%v", n, text, tooLong))
	}
	if got, want := strings.Join(got, " "), `1:{"a":1}:false 4::true 5:{"b":2}:false 6::true 7:{"c":3}:false`; got != want {
		t.Errorf("lines = %s\nwant    %s", got, want)
	}
}
