package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// directory is verify.Directory over the official records the test
// writes (officials), with no blocklist entries.
type directory struct{ o officials }

func (d directory) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	h, err := d.o.rdb.HGetAll(ctx, d.o.key(n)).Result()
	if err != nil {
		return verify.Official{}, err
	}
	if len(h) == 0 {
		return verify.Official{}, fault.ErrNotFound
	}
	return verify.Official{Number: n, DisplayName: h["display_name"], PlacesCalls: h["direction"] == "1", InboundOnly: h["direction"] == "2"}, nil
}

func (directory) BlockedCategory(context.Context, phone.Number) (string, bool, error) {
	return "", false, nil
}

// dump returns every key of the test's prefix with its value, as text,
// from every master.
func dump(t *testing.T, rdb redis.UniversalClient, prefix string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	read := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "{"+prefix+":*", 100).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			typ, err := c.Type(ctx, k).Result()
			if err != nil {
				return err
			}
			var v any
			switch typ {
			case "string":
				v, err = c.Get(ctx, k).Result()
			case "hash":
				v, err = c.HGetAll(ctx, k).Result()
			case "zset":
				v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
			case "stream":
				v, err = c.XRange(ctx, k, "-", "+").Result()
			case "set":
				v, err = c.SMembers(ctx, k).Result()
			case "list":
				v, err = c.LRange(ctx, k, 0, -1).Result()
			default:
				return fmt.Errorf("key %s of type %s", k, typ)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %s = %v\n", typ, k, v)
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return read(ctx, c)
		})
	} else {
		err = read(ctx, rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestNoCustomerNumberInPlain runs the calls domain on the store (stamp,
// codes, devices, preferences, ending calls) and then reads every key and
// value the store wrote: no customer's number, in any common form, and no
// customer id is there in plain.
func TestNoCustomerNumberInPlain(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
			vs, as, o := newStores(t, rdb)
			parser, err := phone.NewParser("CN")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
			svc, err := verify.NewService(verify.Config{
				Store: vs, Directory: directory{o}, Audit: audit.NewRecorder(as, func() time.Time { return now }),
				Phone: parser, Now: func() time.Time { return now }, KEK: testKEK,
			})
			if err != nil {
				t.Fatal(err)
			}
			line := phone.Number("+8657188881234")
			if err := o.AddOfficial(ctx, line, true); err != nil {
				t.Fatal(err)
			}
			alice, bob := phone.Number("+8613800138000"), phone.Number("+8613900139000")
			dialer := audit.Actor{Subject: "dialer-1", Role: "dialer"}
			step := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			_, err = svc.EnrollDevice(ctx, audit.Actor{Subject: "alice", Role: "customer"}, alice, "my phone")
			step("EnrollDevice", err)
			marketing := false
			_, err = svc.UpdatePreferences(ctx, audit.Actor{Subject: "bob", Role: "customer"}, bob, &marketing)
			step("UpdatePreferences", err)
			var stamped []verify.Stamped
			for _, callee := range []string{"138 0013 8000", "+86 139 0013 9000"} {
				s, err := svc.StampCall(ctx, dialer, verify.StampRequest{CallerNumber: line.String(), CalleeNumber: callee,
					CustomerID: "cust-4711", Reason: verify.ReasonRefund, AgentID: "a-1", AgentName: "Agent"})
				step("StampCall", err)
				stamped = append(stamped, s)
			}
			_, err = svc.ConfirmCode(ctx, audit.Actor{Subject: "alice", Role: "customer"}, alice, stamped[0].Call.ID, "000000")
			step("ConfirmCode (wrong)", err)
			r, err := svc.ConfirmCode(ctx, audit.Actor{Subject: "alice", Role: "customer"}, alice, stamped[0].Call.ID, stamped[0].Code)
			step("ConfirmCode", err)
			if !r.Match {
				t.Fatal("the stamped call's code did not match")
			}
			_, err = svc.ListMyCalls(ctx, alice, "")
			step("ListMyCalls", err)
			_, err = svc.EndCall(ctx, dialer, stamped[1].Call.ID)
			step("EndCall", err)
			_, err = svc.EndCalls(ctx, dialer, line.String())
			step("EndCalls", err)

			all := dump(t, rdb, o.prefix)
			for _, want := range []string{":call:", ":callee:", ":devices:", ":prefs:", ":official:", "dir}:audit", "dir}:keys"} {
				if !strings.Contains(all, want) {
					t.Fatalf("the dump has no %q key: the scan missed what it should check\n%s", want, all)
				}
			}
			for _, secret := range []string{"13800138000", "13900139000", "138 0013", "139 0013", "cust-4711"} {
				if i := strings.Index(all, secret); i >= 0 {
					t.Errorf("%q is in Redis in plain: ...%s...", secret, all[max(0, i-200):min(len(all), i+100)])
				}
			}
		})
	}
}
