package redisconn_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/redisconn"
	"github.com/callverify/callverify/internal/redistest"
)

// TestMetricsTimeCommandsAndCountFailures: every command is timed by name;
// an error reply and a pipeline that fails count as errors, a missing key
// and the NOSCRIPT that makes a script load do not.
func TestMetricsTimeCommandsAndCountFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := redisconn.New(redistest.Standalone(t).Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := redisconn.AddMetrics(c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)

	key := redistest.Prefix(t) + "k"
	if err := c.Set(ctx, key, "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, key+"-missing").Err(); err != redis.Nil {
		t.Fatalf("GET of a missing key: %v, want redis.Nil", err)
	}
	if err := c.Incr(ctx, key).Err(); err == nil {
		t.Fatal("INCR of a string succeeded")
	}
	// A script Redis has not seen: EVALSHA answers NOSCRIPT, then EVAL runs it.
	script := redis.NewScript("return '" + redistest.Prefix(t) + "'")
	if err := script.Run(ctx, c, nil).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	pipe.Incr(ctx, key)
	if _, err := pipe.Exec(ctx); err == nil {
		t.Fatal("a pipeline of a failing INCR succeeded")
	}

	for _, tc := range []struct {
		metric, command string
		want            float64
	}{
		{"callverify_redis_command_errors_total", "get", 0},
		{"callverify_redis_command_errors_total", "incr", 1},
		{"callverify_redis_command_errors_total", "evalsha", 0},
		{"callverify_redis_command_errors_total", "pipeline", 1},
	} {
		got := counterOf(t, reg, tc.metric, tc.command)
		if got != tc.want {
			t.Errorf("%s{command=%q} = %v, want %v", tc.metric, tc.command, got, tc.want)
		}
	}
	for _, cmd := range []string{"set", "get", "incr", "evalsha", "eval", "pipeline"} {
		if n := histogramCount(t, reg, cmd); n < 1 {
			t.Errorf("callverify_redis_command_duration_seconds{command=%q} has %d samples, want at least 1", cmd, n)
		}
	}
}

func counterOf(t *testing.T, reg *prometheus.Registry, name, command string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == command {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{command=%q}", name, command)
	return 0
}

func histogramCount(t *testing.T, reg *prometheus.Registry, command string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "callverify_redis_command_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == command {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}
