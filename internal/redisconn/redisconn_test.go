package redisconn_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/redisconn"
	"github.com/callverify/callverify/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestKindFollowsAddressesAndMasterName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    redisconn.Config
		want redisconn.Kind
	}{
		{redisconn.Config{Addrs: []string{"r:6379"}}, redisconn.Standalone},
		{redisconn.Config{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "main"}, redisconn.Sentinel},
		{redisconn.Config{Addrs: []string{"s1:26379"}, MasterName: "main"}, redisconn.Sentinel},
		{redisconn.Config{Addrs: []string{"n1:6379", "n2:6379"}}, redisconn.Cluster},
	} {
		if got := tc.c.Kind(); got != tc.want {
			t.Errorf("%+v: Kind = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	one := []string{"127.0.0.1:6379"}
	for _, tc := range []struct {
		name string
		c    redisconn.Config
		want string // "" = valid
	}{
		{"standalone", redisconn.Config{Addrs: one, DB: 3}, ""},
		{"sentinel with a database", redisconn.Config{Addrs: []string{"a:1", "b:2"}, MasterName: "m", DB: 1}, ""},
		{"tls", redisconn.Config{Addrs: one, TLS: redisconn.TLS{Enable: true, CAFile: "ca.pem", ServerName: "redis"}}, ""},
		{"no address", redisconn.Config{}, "no Redis address"},
		{"not host:port", redisconn.Config{Addrs: []string{"redis"}}, `Redis address "redis" is not host:port`},
		{"no port", redisconn.Config{Addrs: []string{"redis:"}}, `Redis address "redis:" is not host:port`},
		{"cluster with a database", redisconn.Config{Addrs: []string{"a:1", "b:2"}, DB: 2}, "a Cluster has only database 0"},
		{"negative database", redisconn.Config{Addrs: one, DB: -1}, "Redis database -1 is negative"},
		{"password twice", redisconn.Config{Addrs: one, Password: "p", PasswordFile: "f"}, "set only one"},
		{"CA without TLS", redisconn.Config{Addrs: one, TLS: redisconn.TLS{CAFile: "ca.pem"}}, "without TLS enabled"},
		{"server name without TLS", redisconn.Config{Addrs: one, TLS: redisconn.TLS{ServerName: "r"}}, "without TLS enabled"},
		{"negative timeout", redisconn.Config{Addrs: one, ReadTimeout: -time.Second}, "Redis read timeout -1s is negative"},
		{"negative pool", redisconn.Config{Addrs: one, PoolSize: -1}, "Redis pool size -1 is negative"},
	} {
		err := tc.c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Validate = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if _, nerr := redisconn.New(tc.c); tc.want != "" && nerr == nil {
			t.Errorf("%s: New accepted what Validate refuses", tc.name)
		}
	}
}

func TestStandaloneClientRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := redisconn.New(redistest.Standalone(t).Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.Client); !ok {
		t.Errorf("one address gave a %T, want *redis.Client", c)
	}
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Fatal(err)
	}
	key := redistest.Prefix(t) + "k"
	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Errorf("GET = %q, %v; want \"v\"", got, err)
	}
}

func TestClusterClientPingsEveryMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := redistest.Cluster(t)
	c, err := redisconn.New(cl.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("three addresses gave a %T, want *redis.ClusterClient", c)
	}
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Fatal(err)
	}
	var masters atomic.Int32
	if err := c.(*redis.ClusterClient).ForEachMaster(ctx, func(context.Context, *redis.Client) error {
		masters.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := masters.Load(), int32(3); got != want {
		t.Errorf("%d masters, want %d", got, want)
	}
}

func TestDatabaseIsSelected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.Standalone(t)
	cfg := s.Config()
	cfg.DB = 5
	c, err := redisconn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := redistest.Prefix(t) + "in-db-5"
	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Client(t).Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS in database 0 = %d, %v; want 0 (the key is in database 5)", n, err)
	}
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestPasswordAndACLUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.NewServer(t, redistest.Options{Args: []string{"--requirepass", "default-secret"}})

	anonymous := s.Config()
	c, err := redisconn.New(anonymous)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := redisconn.Ping(ctx, c); !errors.Is(err, fault.ErrUnavailable) || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("Ping without the password = %v, want unavailable (NOAUTH)", err)
	}

	withFile := s.Config()
	withFile.PasswordFile = writeFile(t, "password", "default-secret\n", 0o600)
	admin, err := redisconn.New(withFile)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := redisconn.Ping(ctx, admin); err != nil {
		t.Fatalf("Ping with the password file: %v", err)
	}

	if err := admin.Do(ctx, "ACL", "SETUSER", "callverify", "on", ">app-secret", "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	user := s.Config()
	user.Username, user.Password = "callverify", "app-secret"
	uc, err := redisconn.New(user)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if got, err := uc.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || got != "callverify" {
		t.Errorf("ACL WHOAMI = %q, %v; want callverify", got, err)
	}
}

func TestPasswordFileIsChecked(t *testing.T) {
	t.Parallel()
	cfg := redisconn.Config{Addrs: []string{"127.0.0.1:1"}}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"readable by others", "secret\n", 0o644, "chmod 600"},
		{"empty", "\n", 0o600, "is empty"},
		{"two lines", "one\ntwo\n", 0o600, "more than one line"},
	} {
		cfg.PasswordFile = writeFile(t, "password", tc.content, tc.mode)
		if _, err := redisconn.New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestPingOfAStoppedServerIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.NewServer(t, redistest.Options{})
	cfg := s.Config()
	cfg.DialTimeout = time.Second
	c, err := redisconn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Stop(t)
	err = redisconn.Ping(ctx, c)
	if !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("Ping of a stopped server = %v, want fault.ErrUnavailable", err)
	}
	if msg, ok := fault.Message(err); !ok || strings.Contains(msg, s.Addr()) {
		t.Errorf("client message %q (%v) must be the fixed one, without the address", msg, ok)
	}
	s.Start(t)
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Errorf("Ping after the restart = %v, want nil (the client reconnects)", err)
	}
}

// One master down makes a third of the keys unreachable: Ping says so.
func TestClusterPingFailsWhenOneMasterIsDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	cfg := cl.Config()
	cfg.DialTimeout = time.Second
	c, err := redisconn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Fatal(err)
	}
	down := cl.Nodes()[2]
	down.Kill(t)
	if err := redisconn.Ping(ctx, c); !errors.Is(err, fault.ErrUnavailable) || !strings.Contains(err.Error(), down.Addr()) {
		t.Errorf("Ping with %s down = %v, want unavailable naming it", down.Addr(), err)
	}
	down.Start(t)
	if err := redisconn.Ping(ctx, c); err != nil {
		t.Errorf("Ping after %s restarted = %v, want nil", down.Addr(), err)
	}
}

// TestClientsNeverResendACommand: a script sent again after a broken
// connection could run twice, so no client retries.
func TestClientsNeverResendACommand(t *testing.T) {
	t.Parallel()
	for _, c := range []redisconn.Config{
		{Addrs: []string{"127.0.0.1:1"}},
		{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{Addrs: []string{"127.0.0.1:1"}, MasterName: "main"},
	} {
		rdb, err := redisconn.New(c)
		if err != nil {
			t.Fatal(err)
		}
		var retries int
		switch r := rdb.(type) {
		case *redis.ClusterClient:
			retries = r.Options().MaxRetries
		case *redis.Client:
			retries = r.Options().MaxRetries
		default:
			t.Fatalf("%v: client %T", c.Kind(), rdb)
		}
		// go-redis keeps -1 or turns it into 0 once set up: both mean no
		// retry (its default, 3, is what must not be left).
		if retries > 0 {
			t.Errorf("%v: MaxRetries = %d, want none (never resend)", c.Kind(), retries)
		}
		rdb.Close()
	}
}

// slowIncr increments KEYS[1], then keeps Redis busy for ARGV[1] ms: its
// reply comes after the client's read timeout, though the script ran.
var slowIncr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local start = t[1] * 1000 + math.floor(t[2] / 1000)
repeat
  t = redis.call('TIME')
until t[1] * 1000 + math.floor(t[2] / 1000) - start >= tonumber(ARGV[1])
return n
`)

// TestAScriptThatTimedOutIsNotSentAgain: a script whose reply did not come
// in time may have run (here it has); no client, Cluster included (its
// MaxRedirects loop retries timeouts and broken connections on its own,
// whatever MaxRetries says), sends it again.
func TestAScriptThatTimedOutIsNotSentAgain(t *testing.T) {
	t.Parallel()
	type server interface {
		Config() redisconn.Config
		Client(testing.TB) redis.UniversalClient
	}
	for _, tc := range []struct {
		name string
		srv  server
	}{
		{"standalone", redistest.Standalone(t)},
		{"cluster", redistest.Cluster(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := tc.srv.Config()
			cfg.ReadTimeout = 100 * time.Millisecond
			rdb, err := redisconn.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			key := "{" + redistest.Prefix(t) + "}:runs"
			if err := slowIncr.Load(ctx, rdb).Err(); err != nil {
				t.Fatal(err)
			}
			if err := slowIncr.Run(ctx, rdb, []string{key}, 300).Err(); err == nil {
				t.Fatal("a script slower than the read timeout answered in time")
			}
			check := tc.srv.Client(t)
			// The GET queues behind every run the client sent.
			got, err := check.Get(ctx, key).Int()
			if err != nil {
				t.Fatal(err)
			}
			if got != 1 {
				t.Errorf("the script ran %d times, want 1 (the client sent it again after its read timeout)", got)
			}
		})
	}
}
