package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/redisconn"
)

// clusterTimeout bounds creating a cluster and waiting for it to be ok.
const clusterTimeout = 60 * time.Second

// ClusterServers are the three masters of a Redis Cluster on 127.0.0.1,
// with no replicas, holding slots 0-5460, 5461-10922 and 10923-16383.
type ClusterServers struct {
	nodes []*Server
}

// NewCluster creates a private three-master cluster in directories of t's,
// whose nodes t may stop, restart and kill; it is stopped when t ends.
func NewCluster(t testing.TB) *ClusterServers {
	t.Helper()
	c, err := startCluster(func() (string, error) { return t.TempDir(), nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if err := n.stop(); err != nil {
				t.Error(err)
			}
		}
	})
	return c
}

// startCluster starts three cluster-enabled servers, joins them with
// redis-cli --cluster create and waits until every node says the cluster
// is ok. On an error it stops what it started and removes the directories
// mkdir made.
func startCluster(mkdir func() (string, error)) (c *ClusterServers, err error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New(serverMissing)
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, errors.New(cliMissing)
	}
	c = &ClusterServers{}
	defer func() {
		if err != nil {
			for _, n := range c.nodes {
				n.stop()
				os.RemoveAll(n.dir)
			}
			c = nil
		}
	}()
	for range 3 {
		dir, err := mkdir()
		if err != nil {
			return nil, err
		}
		n, err := startServer(dir, Options{}, clusterServer)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redistest: redis-cli %v: %v: %s", args, err, out)
	}
	for _, n := range c.nodes {
		if err := n.awaitClusterOK(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Addrs are the nodes' host:port addresses.
func (c *ClusterServers) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Nodes are the three masters, in slot order. Only the nodes of a private
// cluster (NewCluster) may stop.
func (c *ClusterServers) Nodes() []*Server { return c.nodes }

// Config is a redisconn.Config that reaches the cluster.
func (c *ClusterServers) Config() redisconn.Config { return redisconn.Config{Addrs: c.Addrs()} }

// Client returns a cluster client (it follows MOVED and ASK), closed when
// t ends.
func (c *ClusterServers) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	return newClient(t, c.Config())
}
