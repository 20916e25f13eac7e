package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestDownloadsOutliveTheUnaryDeadlinesWhileTheyMove: with read and write
// timeouts of 200ms, a stream route (export) that writes a line every 50ms
// for 600ms is delivered whole, its context never cancelled; the same
// handler on a unary route is cut off.
func TestDownloadsOutliveTheUnaryDeadlinesWhileTheyMove(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{Edge: EdgeConfig{StreamIdleTimeout: 400 * time.Millisecond}}}
	const lines = 12
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < lines; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			fmt.Fprintf(w, "line %d\n", i)
			_ = http.NewResponseController(w).Flush()
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.edge(handler), ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
	go hs.Serve(ln)
	defer hs.Close()

	count := func(path string) int {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		n := 0
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			n++
		}
		return n
	}
	if got := count(exportPath); got != lines {
		t.Errorf("export: %d lines arrived, want all %d", got, lines)
	}
	if got := count("/v1/calls/x"); got >= lines {
		t.Errorf("unary route: all %d lines arrived past the 200ms write timeout", got)
	}
}
