package app

import (
	"strings"
	"testing"
)

// With Redis every instance must read one shared key-encryption key: the
// rule is part of Validate.
func TestRedisRequiresASharedKEKFile(t *testing.T) {
	t.Parallel()
	const rule = "--kek-file (CALLVERIFY_KEK_FILE): required with --redis-addrs"
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want bool // the KEK rule refuses
	}{
		{"Redis without a KEK file", []string{"--dev", "--redis-addrs=127.0.0.1:6379"}, nil, true},
		{"Redis from the environment without a KEK file", []string{"--dev"}, map[string]string{"CALLVERIFY_REDIS_ADDRS": "10.0.0.1:6379,10.0.0.2:6379"}, true},
		{"Redis with --kek-file", []string{"--dev", "--redis-addrs=127.0.0.1:6379", "--kek-file=/run/secrets/kek"}, nil, false},
		{"Redis with CALLVERIFY_KEK_FILE", []string{"--dev", "--redis-addrs=127.0.0.1:6379"}, map[string]string{"CALLVERIFY_KEK_FILE": "/run/secrets/kek"}, false},
		{"the embedded store without a KEK file", []string{"--dev"}, nil, false},
	} {
		_, err := ParseFlags("test", tc.args, envOf(tc.env))
		got := err != nil && strings.Contains(err.Error(), rule)
		if got != tc.want {
			t.Errorf("%s: error %v; refused by the KEK rule = %v, want %v", tc.name, err, got, tc.want)
		}
		if tc.want && !strings.Contains(err.Error(), "could not open the keys and secrets the others sealed") {
			t.Errorf("%s: error %q does not say why", tc.name, err)
		}
	}
	// Validate itself, the function that will apply once Redis is in the
	// build, carries the rule (not only ParseFlags).
	cfg, err := ParseFlags("test", []string{"--dev"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RedisAddrs = []string{"127.0.0.1:6379"}
	if err := cfg.validateSharedKeys(); err == nil {
		t.Error("validateSharedKeys accepted Redis without a KEK file")
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), rule) {
		t.Errorf("Validate = %v, want the KEK rule", err)
	}
}
