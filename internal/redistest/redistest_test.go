package redistest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestStandaloneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.Standalone(t)
	if got, want := redistest.Standalone(t).Addr(), s.Addr(); got != want {
		t.Errorf("second Standalone on %s, want the shared server on %s", got, want)
	}
	if strings.HasSuffix(s.Addr(), ":6379") {
		t.Fatalf("shared server on %s, the system's port", s.Addr())
	}
	c := s.Client(t)
	key := redistest.Prefix(t) + "k"
	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Errorf("GET %s = %q, %v; want \"v\"", key, got, err)
	}
}

func TestPrefixesDiffer(t *testing.T) {
	t.Parallel()
	a, b := redistest.Prefix(t), redistest.Prefix(t)
	if a == b || !strings.HasSuffix(a, ":") || strings.ContainsAny(a, "{}") {
		t.Errorf("Prefix gave %q then %q; want two different prefixes ending in ':' without a hash tag", a, b)
	}
}

// slotRanges are the ranges redis-cli --cluster create gives three masters.
var slotRanges = [3][2]int64{{0, 5460}, {5461, 10922}, {10923, 16383}}

func TestClusterRoundTripInEverySlotRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := redistest.Cluster(t)
	c := cl.Client(t)
	nodes := cl.Nodes()
	if got, want := len(nodes), 3; got != want {
		t.Fatalf("%d nodes, want %d", got, want)
	}

	// One key per node's slot range.
	prefix := redistest.Prefix(t)
	keys := make([]string, 3)
	for i := 0; keys[0] == "" || keys[1] == "" || keys[2] == ""; i++ {
		key := fmt.Sprintf("%sk%d", prefix, i)
		slot, err := nodes[0].Client(t).ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		for r, sr := range slotRanges {
			if slot >= sr[0] && slot <= sr[1] && keys[r] == "" {
				keys[r] = key
			}
		}
	}
	for i, key := range keys {
		if err := c.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	for i, key := range keys {
		if got, err := c.Get(ctx, key).Int(); err != nil || got != i {
			t.Errorf("GET %s = %d, %v; want %d", key, got, err, i)
		}
		// The key lives on the node of its range; the others redirect.
		for n, node := range nodes {
			direct := redis.NewClient(&redis.Options{Addr: node.Addr(), DisableIdentity: true, MaxRetries: -1})
			got, err := direct.Get(ctx, key).Int()
			direct.Close()
			switch {
			case n == i && (err != nil || got != i):
				t.Errorf("GET %s on its node %s = %d, %v; want %d", key, node.Addr(), got, err, i)
			case n != i && (err == nil || !strings.HasPrefix(err.Error(), "MOVED ")):
				t.Errorf("GET %s on node %s = %d, %v; want a MOVED redirection", key, node.Addr(), got, err)
			}
		}
	}
}

// The Redis stores' scripts touch several keys of one hash tag.
func TestClusterRunsMultiKeyScriptOnOneHashTag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.Cluster(t).Client(t)
	prefix := redistest.Prefix(t)
	script := redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[1])
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}`)

	tagged := []string{prefix + "{acct7}:value", prefix + "{acct7}:sum"}
	for _, want := range []string{"5", "10"} {
		got, err := script.Run(ctx, c, tagged, 5).StringSlice()
		if err != nil {
			t.Fatalf("script on %v: %v", tagged, err)
		}
		if got[0] != "5" || got[1] != want {
			t.Errorf("script on %v = %v, want [5 %s]", tagged, got, want)
		}
	}

	// Without a shared tag the keys' slots differ: Redis refuses.
	untagged := []string{prefix + "value-a", prefix + "sum-b"}
	if err := script.Run(ctx, c, untagged, 5).Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("script on %v: %v, want a CROSSSLOT error", untagged, err)
	}
}

func TestStopStartKeepsAppendOnlyData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	addr := s.Addr()
	c := s.Client(t)
	if err := c.Set(ctx, "before-stop", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while the server is stopped")
	}
	s.Start(t)
	if got := s.Addr(); got != addr {
		t.Errorf("restarted on %s, want %s", got, addr)
	}
	if got, err := c.Get(ctx, "before-stop").Result(); err != nil || got != "1" {
		t.Errorf("GET before-stop after restart = %q, %v; want \"1\"", got, err)
	}

	// appendfsync always: an acknowledged write survives SIGKILL too.
	if err := c.Set(ctx, "before-kill", "2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill(t)
	s.Start(t)
	if got, err := c.Get(ctx, "before-kill").Result(); err != nil || got != "2" {
		t.Errorf("GET before-kill after SIGKILL and restart = %q, %v; want \"2\"", got, err)
	}
}

func TestStopStartWithoutAppendOnlyForgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.NewServer(t, redistest.Options{})
	c := s.Client(t)
	if err := c.Set(ctx, "k", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	s.Start(t)
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after restart without persistence = %d, %v; want 0", n, err)
	}
}

// The shared Sentinel deployment: the sentinels name the first server the
// master, a write through them lands there and reaches the replica.
func TestSentinelRoundTripReachesTheReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := redistest.Sentinel(t)
	if got := redistest.Sentinel(t); got != set {
		t.Errorf("second Sentinel is another deployment")
	}
	if got, want := set.MasterName(), "redistest"; got != want {
		t.Errorf("MasterName = %q, want %q", got, want)
	}
	if got, want := len(set.Sentinels()), 3; got != want {
		t.Errorf("%d sentinels, want %d", got, want)
	}
	for _, a := range append(set.SentinelAddrs(), set.Servers()[0].Addr(), set.Servers()[1].Addr()) {
		if strings.HasSuffix(a, ":6379") || strings.HasSuffix(a, ":26379") {
			t.Errorf("a server of the deployment on %s, a system port", a)
		}
	}
	master, replica := set.Servers()[0], set.Servers()[1]
	if got := set.Master(t); got != master {
		t.Fatalf("sentinels name %s the master, want the first server %s", got.Addr(), master.Addr())
	}
	c := set.Client(t)
	key := redistest.Prefix(t) + "k"
	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want 1 replica", n, err)
	}
	r := replica.Client(t)
	if got, err := r.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Errorf("GET %s on the replica = %q, %v; want \"v\"", key, got, err)
	}
	if err := r.Set(ctx, key, "w", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("SET on the replica: %v, want READONLY", err)
	}
}

// Killing a shared deployment's master would break the other tests.
func TestSharedSentinelRefusesKillMaster(t *testing.T) {
	t.Parallel()
	set := redistest.Sentinel(t)
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		set.KillMaster(ft)
	}()
	<-done
	if !strings.Contains(ft.msg, "use NewSentinel") {
		t.Errorf("KillMaster of the shared deployment: %q, want a refusal", ft.msg)
	}
	if got := set.Master(t); got != set.Servers()[0] {
		t.Errorf("master %s after the refused kill, want %s", got.Addr(), set.Servers()[0].Addr())
	}
}

// fatalRecorder keeps what Fatal says and ends only its own goroutine.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
