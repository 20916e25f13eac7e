package netlimit_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callverify/callverify/internal/netlimit"
)

// accepted serves ln and hands over every connection it lets through.
func accepted(t *testing.T, ln net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			ch <- c
		}
	}()
	return ch
}

func dialFrom(t *testing.T, from string, to net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer says whether the server closed c (a read sees EOF or a
// reset) rather than holding it open.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func expectAccepted(t *testing.T, ch <-chan net.Conn, what string) net.Conn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: not accepted", what)
		return nil
	}
}

func expectNothing(t *testing.T, ch <-chan net.Conn, what string) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("%s: accepted a connection from %v over the cap", what, c.RemoteAddr())
	case <-time.After(50 * time.Millisecond):
	}
}

// TestListenerCapsConnectionsPerAddressAndInTotal: over the per-address
// cap a connection is closed at once (and counted); another address still
// gets in until the total cap; closing a connection frees its slot; an
// exempt address (a trusted proxy) is held to the total cap only.
func TestListenerCapsConnectionsPerAddressAndInTotal(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	proxy := netip.MustParseAddr("127.0.0.4")
	lim := netlimit.New(netlimit.Limits{PerAddr: 2, Total: 5, Exempt: func(a netip.Addr) bool { return a == proxy }}, reg)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := lim.Listen("http", inner)
	defer ln.Close()
	ch := accepted(t, ln)

	dialFrom(t, "127.0.0.2", inner.Addr())
	a1 := expectAccepted(t, ch, "first from .2")
	dialFrom(t, "127.0.0.2", inner.Addr())
	expectAccepted(t, ch, "second from .2")
	third := dialFrom(t, "127.0.0.2", inner.Addr())
	if !closedByServer(third) {
		t.Error("a third connection from 127.0.0.2 (cap 2) was held open")
	}
	expectNothing(t, ch, "third from .2")
	if got, want := rejected(t, reg, "http", netlimit.ReasonPerAddr), 1.0; got != want {
		t.Errorf("per-address rejections = %v, want %v", got, want)
	}

	// Another address is not affected by .2's cap.
	dialFrom(t, "127.0.0.3", inner.Addr())
	expectAccepted(t, ch, "first from .3")
	// The proxy may exceed the per-address cap, up to the total (5).
	dialFrom(t, "127.0.0.4", inner.Addr())
	expectAccepted(t, ch, "first from the proxy")
	dialFrom(t, "127.0.0.4", inner.Addr())
	expectAccepted(t, ch, "second from the proxy")
	over := dialFrom(t, "127.0.0.4", inner.Addr())
	if !closedByServer(over) {
		t.Error("a sixth connection (total cap 5) was held open")
	}
	if got, want := rejected(t, reg, "http", netlimit.ReasonTotal), 1.0; got != want {
		t.Errorf("total rejections = %v, want %v", got, want)
	}

	// Closing an accepted connection (twice: counted once) frees its slot.
	a1.Close()
	a1.Close()
	dialFrom(t, "127.0.0.3", inner.Addr())
	expectAccepted(t, ch, "after a slot was freed")
	if c := dialFrom(t, "127.0.0.4", inner.Addr()); !closedByServer(c) {
		t.Error("past the total again, a connection was held open")
	}
	if got, want := rejected(t, reg, "http", netlimit.ReasonTotal), 2.0; got != want {
		t.Errorf("total rejections = %v, want %v", got, want)
	}
}

// TestTheCapsAreSharedByListeners: one Limiter's caps hold across its
// listeners (gRPC and HTTP together).
func TestTheCapsAreSharedByListeners(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	lim := netlimit.New(netlimit.Limits{PerAddr: 1}, reg)
	var chs []<-chan net.Conn
	var addrs []net.Addr
	for _, name := range []string{"grpc", "http"} {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln := lim.Listen(name, inner)
		defer ln.Close()
		chs, addrs = append(chs, accepted(t, ln)), append(addrs, inner.Addr())
	}
	dialFrom(t, "127.0.0.2", addrs[0])
	expectAccepted(t, chs[0], "gRPC")
	c := dialFrom(t, "127.0.0.2", addrs[1])
	if !closedByServer(c) {
		t.Error("a second connection from the same address on the other listener was held open")
	}
	if got := rejected(t, reg, "http", netlimit.ReasonPerAddr); got != 1 {
		t.Errorf("http per-address rejections = %v, want 1", got)
	}
}

func TestDefaultTotalStaysBelowTheDescriptorLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{0, 1024}, {20000, 16000}, {1024, 820}, {256, 192}, {64, 16}, {1 << 40, 858993460},
	} {
		if got := netlimit.DefaultTotal(tc.nofile); got != tc.want {
			t.Errorf("DefaultTotal(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// rejected reads callverify_connections_rejected_total{listener, reason}
// from the registry, as /metrics shows it.
func rejected(t *testing.T, reg *prometheus.Registry, listener, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "callverify_connections_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["listener"] == listener && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no callverify_connections_rejected_total{listener=%q,reason=%q}", listener, reason)
	return 0
}
