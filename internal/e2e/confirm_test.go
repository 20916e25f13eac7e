package e2e

import (
	"sync"
	"testing"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
)

// attempt is one ConfirmCode answer of the hammer.
type attempt struct {
	right     bool
	match     bool
	remaining int32
	err       error
}

// TestConfirmCodeHammeredAcrossTwoInstancesIsDecidedOnce sends wrong and
// right codes for one call at once, half through each instance: no more
// than 5 wrong attempts ever count (the call locks at the fifth), and a right
// code matches once at most, exactly once when it must have come before the
// lock.
func TestConfirmCodeHammeredAcrossTwoInstancesIsDecidedOnce(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{})
	p.official(p.a)
	for _, tc := range []struct {
		name         string
		wrong, right int
		// wantMatch: exactly one match. With fewer than 5 wrong codes the
		// lock needs a used-up right code, so a right code came first.
		wantMatch bool
	}{
		{name: "wrong and right codes", wrong: 30, right: 10},
		{name: "four wrong codes and right codes", wrong: 4, right: 12, wantMatch: true},
		{name: "only right codes", right: 16, wantMatch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stamped := p.stamp(p.a)
			id, code := stamped.GetCall().GetCallId(), stamped.GetConfirmationCode()
			wrongCode := code[:5] + string('0'+(code[5]-'0'+1)%10)

			start := make(chan struct{})
			results := make([]attempt, tc.wrong+tc.right)
			var wg sync.WaitGroup
			// Deal the right codes evenly among the wrong ones.
			for i := range tc.right {
				results[i*len(results)/tc.right].right = true
			}
			ctx := p.customerCtx()
			for i := range results {
				d := p.a
				if i%2 == 1 {
					d = p.b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := wrongCode
					if results[i].right {
						c = code
					}
					<-start
					res, err := d.verify.ConfirmCode(ctx, &callverifyv1.ConfirmCodeRequest{CallId: id, Code: c})
					results[i].match, results[i].remaining, results[i].err = res.GetMatch(), res.GetAttemptsRemaining(), err
				}()
			}
			close(start)
			wg.Wait()

			matches, seen := 0, map[int32]int{}
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("attempt %d: %v", i, r.err)
				}
				if r.match {
					matches++
					if !r.right {
						t.Errorf("attempt %d matched with a wrong code", i)
					}
					continue
				}
				seen[r.remaining]++
			}
			if matches > 1 || (tc.wantMatch && matches != 1) {
				t.Errorf("%d attempts matched, want %s", matches, map[bool]string{true: "exactly 1", false: "at most 1"}[tc.wantMatch])
			}
			// The five attempts that counted answered 4, 3, 2, 1 and 0
			// attempts remaining; any other refused attempt answers 0.
			for left := int32(1); left <= 4; left++ {
				if seen[left] != 1 {
					t.Errorf("%d refused attempts answered %d attempts remaining, want exactly 1 (answers: %v)", seen[left], left, seen)
				}
			}
			call, err := p.b.calls.GetCall(p.dialerCtx(), &callverifyv1.GetCallRequest{CallId: id})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := call.GetState(), callverifyv1.CallState_CALL_STATE_LOCKED; got != want {
				t.Errorf("call state after the hammer = %v, want %v", got, want)
			}
			if got := p.auditCount("call.lock", id); got != 1 {
				t.Errorf("%d call.lock events for the call, want 1", got)
			}
			if got := p.auditCount("call.confirm", id); got != matches {
				t.Errorf("%d call.confirm events for the call, want %d (one per match)", got, matches)
			}
		})
	}
}

// auditCount counts the audit events of action on target, read through A.
func (p *pair) auditCount(action, target string) int {
	p.t.Helper()
	n, token := 0, ""
	for {
		res, err := p.a.blocklist.ListAuditEvents(p.adminCtx(), &callverifyv1.ListAuditEventsRequest{Action: action, PageSize: 100, PageToken: token})
		if err != nil {
			p.t.Fatalf("list audit events: %v", err)
		}
		for _, e := range res.GetEvents() {
			if e.GetTarget() == target {
				n++
			}
		}
		if token = res.GetNextPageToken(); token == "" {
			return n
		}
	}
}
