package notify

import (
	"testing"
	"time"
)

func TestNotifyWakesOnlyTheKeysSubscribers(t *testing.T) {
	t.Parallel()
	h := New()
	a, stopA := h.Subscribe("a")
	defer stopA()
	b, stopB := h.Subscribe("b")
	defer stopB()
	h.Notify("a")
	h.Notify("a") // coalesces with the first
	select {
	case <-a:
	case <-time.After(time.Second):
		t.Fatal("subscriber of a was not woken")
	}
	select {
	case <-a:
		t.Fatal("two notifications gave two wake-ups; want them coalesced")
	default:
	}
	select {
	case <-b:
		t.Fatal("subscriber of b was woken by a's notification")
	default:
	}
}

func TestStoppedSubscriptionIsForgotten(t *testing.T) {
	t.Parallel()
	h := New()
	_, stop := h.Subscribe("a")
	if got, want := h.Has("a"), true; got != want {
		t.Fatalf("Has(a) = %v, want %v", got, want)
	}
	stop()
	stop() // twice is harmless
	if got, want := h.Has("a"), false; got != want {
		t.Fatalf("Has(a) after stop = %v, want %v", got, want)
	}
	h.Notify("a") // nobody to wake: must not block or panic
}

func TestOneSubscriptionOnSeveralKeys(t *testing.T) {
	t.Parallel()
	h := New()
	c, stop := h.Subscribe("old", "new")
	h.Notify("new")
	select {
	case <-c:
	case <-time.After(time.Second):
		t.Fatal("not woken by its second key")
	}
	stop()
	if h.Has("old") || h.Has("new") {
		t.Fatal("a stopped subscription is still under one of its keys")
	}
}
