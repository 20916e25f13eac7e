package e2e

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
)

// Official numbers are held in each instance's memory, kept by the change
// log like the blocklist. A line registered on A, with a call stamped from
// it there, verifies on B at once: a number B's memory does not know is
// checked against Redis, as a live line is. Once A has deleted it, B never
// says VERIFIED again, though its memory may hold the line for a moment
// more. A check of a blocked number is answered from memory, and fails like
// every other check once Redis is gone.
func TestOfficialNumbersInMemoryAcrossTwoInstances(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{AppendOnly: true}) // the entry outlives the restart below
	const fraud = "+8617012345678"
	p.block(p.a, fraud)

	p.official(p.a)
	p.stamp(p.a)
	if v, err := p.verdict(p.b, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_VERIFIED {
		t.Fatalf("B's check of a line registered on A, right after the stamp: %v, %v; want VERIFIED", v, err)
	}

	if _, err := p.a.admin.DeleteOfficialNumber(p.adminCtx(), &callverifyv1.DeleteOfficialNumberRequest{Number: officialLine}); err != nil {
		t.Fatal(err)
	}
	if v, err := p.verdict(p.a, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_UNKNOWN {
		t.Errorf("A right after its delete: %v, %v; want UNKNOWN", v, err)
	}
	deadline := time.Now().Add(maxPropagation)
	for time.Now().Before(deadline) {
		if v, err := p.verdict(p.b, officialLine); err != nil || v == callverifyv1.Verdict_VERDICT_VERIFIED {
			t.Fatalf("B after A deleted the line: %v, %v; want no VERIFIED, ever", v, err)
		}
	}
	if v, err := p.verdict(p.b, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_UNKNOWN {
		t.Errorf("B a second after A's delete: %v, %v; want UNKNOWN", v, err)
	}
	if v, err := p.verdict(p.b, fraud); err != nil || v != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD {
		t.Fatalf("B's check of a blocked number: %v, %v; want KNOWN_FRAUD", v, err)
	}

	// Redis gone: memory may be behind by the length of the outage, so
	// the checks that memory alone answers fail too, once the follower
	// has failed to read (the follower polls every 150ms).
	p.redis.Stop(t)
	for _, n := range []string{fraud, "+8613900139000"} {
		eventually(t, notReadyWithin, "B refuses to check "+n+" while Redis is down", func() error {
			_, err := p.verdict(p.b, n)
			if status.Code(err) == codes.Unavailable {
				return nil
			}
			if err == nil {
				return errors.New("answered")
			}
			return err
		})
	}
	p.redis.Start(t)
	eventually(t, notReadyWithin, "B checks again once Redis is back", func() error {
		v, err := p.verdict(p.b, fraud)
		if err != nil || v != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD {
			return fmt.Errorf("verdict %v, err %v", v, err)
		}
		return nil
	})
}
