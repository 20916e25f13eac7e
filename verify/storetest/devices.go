package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

func device(id string, customer phone.Number, at time.Time) verify.Device {
	return verify.Device{ID: id, Customer: customer, Label: "phone " + id, SealedSecret: []byte("sealed-" + id), CreateTime: at}
}

func devIDs(ds []verify.Device) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testDevices(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const limit = 3
	list, err := s.ListDevices(ctx, alice)
	must(t, "ListDevices empty", err)
	if len(list) != 0 {
		t.Fatalf("ListDevices of nobody: %v", devIDs(list))
	}
	d1 := device("d1", alice, base)
	must(t, "CreateDevice", s.CreateDevice(ctx, d1, limit, ev("device.enroll")))
	must(t, "CreateDevice", s.CreateDevice(ctx, device("d3", alice, base.Add(2*time.Minute)), limit, ev("device.enroll")))
	must(t, "CreateDevice", s.CreateDevice(ctx, device("d2", alice, base.Add(time.Minute)), limit, ev("device.enroll")))
	must(t, "CreateDevice other customer", s.CreateDevice(ctx, device("e1", aliceish, base), limit, ev("device.enroll")))
	wantKind(t, "CreateDevice past the limit", s.CreateDevice(ctx, device("d4", alice, base), limit, ev("device.enroll")), fault.ErrResourceExhausted)
	wantKind(t, "CreateDevice with a taken id", s.CreateDevice(ctx, device("e1", aliceish, base), limit, ev("device.enroll")), fault.ErrAlreadyExists)

	got, err := s.GetDevice(ctx, alice, "d1")
	must(t, "GetDevice", err)
	got.CreateTime = got.CreateTime.UTC()
	if !reflect.DeepEqual(got, d1) {
		t.Fatalf("GetDevice = %+v, want %+v", got, d1)
	}
	_, err = s.GetDevice(ctx, bob, "d1")
	wantKind(t, "GetDevice of somebody else's device", err, fault.ErrNotFound)
	_, err = s.GetDevice(ctx, alice, "e1")
	wantKind(t, "GetDevice of a prefix-number's device", err, fault.ErrNotFound)

	list, err = s.ListDevices(ctx, alice)
	must(t, "ListDevices", err)
	if g, w := devIDs(list), []string{"d3", "d2", "d1"}; !reflect.DeepEqual(g, w) {
		t.Fatalf("ListDevices = %v, want newest first %v", g, w)
	}

	wantKind(t, "DeleteDevice of somebody else's device", s.DeleteDevice(ctx, bob, "d1", ev("device.delete")), fault.ErrNotFound)
	must(t, "DeleteDevice", s.DeleteDevice(ctx, alice, "d3", ev("device.delete")))
	wantKind(t, "DeleteDevice twice", s.DeleteDevice(ctx, alice, "d3", ev("device.delete")), fault.ErrNotFound)
	_, err = s.GetDevice(ctx, alice, "d3")
	wantKind(t, "GetDevice after delete", err, fault.ErrNotFound)
	must(t, "CreateDevice after a delete frees a place", s.CreateDevice(ctx, device("d5", alice, base.Add(3*time.Minute)), limit, ev("device.enroll")))
	list, err = s.ListDevices(ctx, aliceish)
	must(t, "ListDevices", err)
	if g, w := devIDs(list), []string{"e1"}; !reflect.DeepEqual(g, w) {
		t.Fatalf("ListDevices of the prefix number = %v, want %v", g, w)
	}
}

func testDevicesConcurrent(t *testing.T, s verify.Store) {
	ctx := context.Background()
	const (
		limit   = 5
		workers = 20
	)
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, full   int
		unexpected []error
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateDevice(ctx, device(fmt.Sprintf("d%02d", i), alice, base), limit, ev("device.enroll"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, fault.ErrResourceExhausted):
				full++
			default:
				unexpected = append(unexpected, err)
			}
		}()
	}
	wg.Wait()
	if len(unexpected) > 0 || ok != limit || full != workers-limit {
		t.Fatalf("created %d (want %d), refused %d, errors %v", ok, limit, full, unexpected)
	}
}

func testPreferences(t *testing.T, s verify.Store) {
	ctx := context.Background()
	_, err := s.GetPreferences(ctx, alice)
	wantKind(t, "GetPreferences never set", err, fault.ErrNotFound)
	p := verify.Preferences{MarketingCallsAllowed: false, UpdateTime: base}
	must(t, "PutPreferences", s.PutPreferences(ctx, alice, p, ev("preferences.update")))
	got, err := s.GetPreferences(ctx, alice)
	must(t, "GetPreferences", err)
	if got.MarketingCallsAllowed || !got.UpdateTime.Equal(base) {
		t.Fatalf("GetPreferences = %+v, want %+v", got, p)
	}
	_, err = s.GetPreferences(ctx, aliceish)
	wantKind(t, "GetPreferences of another customer", err, fault.ErrNotFound)
	must(t, "PutPreferences", s.PutPreferences(ctx, alice, verify.Preferences{MarketingCallsAllowed: true, UpdateTime: base.Add(time.Minute)}, ev("preferences.update")))
	got, err = s.GetPreferences(ctx, alice)
	must(t, "GetPreferences", err)
	if !got.MarketingCallsAllowed || !got.UpdateTime.Equal(base.Add(time.Minute)) {
		t.Fatalf("GetPreferences after replace = %+v", got)
	}
}
