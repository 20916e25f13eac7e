package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/redisconn"
)

// The sentinels' settings: a master silent for sentinelDownAfter is down
// for a sentinel, down for sentinelQuorum of them it is failed over, so a
// failover takes a few seconds, not Redis's default 30 s and more.
const (
	sentinelCount           = 3
	sentinelQuorum          = 2
	sentinelDownAfter       = time.Second
	sentinelFailoverTimeout = 5 * time.Second
	// readyTimeout bounds waiting, before a kill, until every sentinel
	// knows the others (they announce themselves every 2 s) and the
	// replica is in sync.
	readyTimeout = 30 * time.Second
)

// SentinelSet is a master, one replica of it and three sentinels
// monitoring it under one name (quorum 2), all on 127.0.0.1. After a
// failover the replica is the master.
type SentinelSet struct {
	name      string
	data      []*Server // the master, then its replica, as started
	sentinels []*Server
}

// NewSentinel starts a private Sentinel deployment monitoring a master
// under masterName, in directories of t's; t may kill its master
// (KillMaster). It is stopped when t ends.
func NewSentinel(t testing.TB, masterName string) *SentinelSet {
	t.Helper()
	s, err := startSentinelSet(masterName, func() (string, error) { return t.TempDir(), nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// startSentinelSet starts the master, its replica and the sentinels. On
// an error it stops what it started and removes the directories mkdir
// made.
func startSentinelSet(name string, mkdir func() (string, error)) (s *SentinelSet, err error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New(serverMissing)
	}
	s = &SentinelSet{name: name}
	defer func() {
		if err != nil {
			s.stop()
			for _, n := range s.all() {
				os.RemoveAll(n.dir)
			}
			s = nil
		}
	}()
	start := func(o Options, mode serverMode, conf string) (*Server, error) {
		dir, err := mkdir()
		if err != nil {
			return nil, err
		}
		if conf != "" {
			if err := os.WriteFile(filepath.Join(dir, sentinelConf), []byte(conf), 0o600); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		n, err := startServer(dir, o, mode)
		if err != nil {
			os.RemoveAll(dir)
		}
		return n, err
	}
	// No delay before a full sync: a replica (the old master too, once
	// restarted) is in sync within a second, not after the default 5 s.
	data := Options{Args: []string{"--repl-diskless-sync-delay", "0"}}
	master, err := start(data, plainServer, "")
	if err != nil {
		return nil, err
	}
	s.data = append(s.data, master)
	replicaOf := data
	replicaOf.Args = append(replicaOf.Args, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	replica, err := start(replicaOf, plainServer, "")
	if err != nil {
		return nil, err
	}
	s.data = append(s.data, replica)

	// The sentinels learn of the replica from the configuration, not from
	// the master's INFO, which they read only every 10 s.
	conf := fmt.Sprintf(`sentinel monitor %[1]s 127.0.0.1 %[2]d %[3]d
sentinel down-after-milliseconds %[1]s %[4]d
sentinel failover-timeout %[1]s %[5]d
sentinel parallel-syncs %[1]s 1
sentinel known-replica %[1]s 127.0.0.1 %[6]d
`, name, master.port, sentinelQuorum, sentinelDownAfter.Milliseconds(), sentinelFailoverTimeout.Milliseconds(), replica.port)
	for range sentinelCount {
		n, err := start(Options{}, sentinelServer, conf)
		if err != nil {
			return nil, err
		}
		s.sentinels = append(s.sentinels, n)
	}
	return s, nil
}

func (s *SentinelSet) all() []*Server { return append(append([]*Server{}, s.data...), s.sentinels...) }

// stop stops the sentinels first, so none fails over a master being
// stopped.
func (s *SentinelSet) stop() error {
	var errs []error
	for _, n := range s.sentinels {
		errs = append(errs, n.stop())
	}
	for _, n := range s.data {
		errs = append(errs, n.stop())
	}
	return errors.Join(errs...)
}

// MasterName is the name the sentinels monitor the master under.
func (s *SentinelSet) MasterName() string { return s.name }

// SentinelAddrs are the sentinels' host:port addresses.
func (s *SentinelSet) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Servers are the master and its replica, in the order they started:
// after a failover the second is the master.
func (s *SentinelSet) Servers() []*Server { return s.data }

// Sentinels are the three sentinels.
func (s *SentinelSet) Sentinels() []*Server { return s.sentinels }

// Config is a redisconn.Config that reaches the master through the
// sentinels.
func (s *SentinelSet) Config() redisconn.Config {
	return redisconn.Config{Addrs: s.SentinelAddrs(), MasterName: s.name}
}

// Client returns a failover client of the master, closed when t ends.
func (s *SentinelSet) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	return newClient(t, s.Config())
}

// Master returns the server every sentinel names as the master, waiting
// while they disagree (after a failover, until the news reached them all).
func (s *SentinelSet) Master(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		m, err := s.master(ctx)
		if err == nil {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: sentinels of %s do not agree on a master within %v: %v", s.name, readyTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// master returns the server every sentinel names as the master.
func (s *SentinelSet) master(ctx context.Context) (*Server, error) {
	var m *Server
	for _, n := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true, MaxRetries: -1})
		hp, err := sc.GetMasterAddrByName(ctx, s.name).Result()
		sc.Close()
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: master of %s: %w", n.Addr(), s.name, err)
		}
		named := s.server(hp)
		switch {
		case named == nil:
			return nil, fmt.Errorf("sentinel %s names %v the master of %s, none of ours", n.Addr(), hp, s.name)
		case m != nil && named != m:
			return nil, fmt.Errorf("sentinels name %s and %s the master of %s", m.Addr(), named.Addr(), s.name)
		}
		m = named
	}
	return m, nil
}

// server is the master or replica at a sentinel's [host, port], or nil.
func (s *SentinelSet) server(hostPort []string) *Server {
	for _, n := range s.data {
		if len(hostPort) == 2 && n.Addr() == net.JoinHostPort(hostPort[0], hostPort[1]) {
			return n
		}
	}
	return nil
}

// KillMaster waits until a failover can succeed (every sentinel knows the
// other two and the replica, which is in sync with the master), then kills
// the current master with SIGKILL and returns it. The sentinels then
// promote the replica; the killed server stays down unless restarted
// (Start), when it rejoins as a replica.
func (s *SentinelSet) KillMaster(t testing.TB) *Server {
	t.Helper()
	if s.data[0].shared {
		t.Fatal("redistest: KillMaster of the shared Sentinel deployment would break the other tests; use NewSentinel")
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	m, err := s.awaitFailoverReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Kill(t)
	return m
}

// awaitFailoverReady polls until the sentinels could fail the master
// over, and returns the master.
func (s *SentinelSet) awaitFailoverReady(ctx context.Context) (*Server, error) {
	var last error
	for {
		m, err := s.master(ctx)
		if err == nil {
			err = s.failoverReady(ctx, m)
			if err == nil {
				return m, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("redistest: sentinels of %s not ready to fail over within %v: %w", s.name, readyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *SentinelSet) failoverReady(ctx context.Context, master *Server) error {
	for _, n := range s.data {
		if n == master {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true, MaxRetries: -1})
		info, err := c.Info(ctx, "replication").Result()
		c.Close()
		if err != nil {
			return fmt.Errorf("replica %s: %w", n.Addr(), err)
		}
		if !strings.Contains(info, "master_link_status:up") || !strings.Contains(info, fmt.Sprintf("master_port:%d\r", master.port)) {
			return fmt.Errorf("replica %s not in sync with %s: %s", n.Addr(), master.Addr(), info)
		}
	}
	for _, n := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true, MaxRetries: -1})
		others, err := sc.Sentinels(ctx, s.name).Result()
		if err == nil && len(others) != sentinelCount-1 {
			err = fmt.Errorf("knows %d other sentinels, want %d", len(others), sentinelCount-1)
		}
		var replicas []map[string]string
		if err == nil {
			replicas, err = sc.Replicas(ctx, s.name).Result()
		}
		sc.Close()
		if err == nil && len(replicas) != len(s.data)-1 {
			err = fmt.Errorf("knows %d replicas, want %d", len(replicas), len(s.data)-1)
		}
		for _, r := range replicas {
			if err == nil && (r["flags"] != "slave" || r["master-link-status"] != "ok") {
				err = fmt.Errorf("sees replica %s:%s with flags %q, master link %q", r["ip"], r["port"], r["flags"], r["master-link-status"])
			}
		}
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", n.Addr(), err)
		}
	}
	return nil
}
