package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/secretfile"
)

// Config says how to reach Redis. The zero values of the timeouts and the
// pool size take go-redis's defaults.
type Config struct {
	// Addrs are host:port addresses: of the server (one), of the cluster's
	// nodes (several, any subset is enough to find the rest), or of the
	// sentinels (with MasterName).
	Addrs []string
	// MasterName is the name Sentinel monitors the master under; set, Addrs
	// are sentinels.
	MasterName string

	// Username and Password authenticate (AUTH, or ACL with a username).
	// PasswordFile holds the password instead (mode 0600, one line);
	// setting both is an error.
	Username     string
	Password     string
	PasswordFile string

	// DB selects a database of a standalone or Sentinel server; a Cluster
	// has only database 0.
	DB int

	TLS TLS

	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the number of connections per node; 0 = 10 per CPU.
	PoolSize int
}

// TLS configures an encrypted connection. The server's certificate is
// always verified.
type TLS struct {
	Enable bool
	// CAFile is a PEM file of the CAs that sign the servers' certificates;
	// empty = the system's roots.
	CAFile string
	// ServerName is the name the certificates must carry; empty = the host
	// of each address.
	ServerName string
}

// Kind is how the addresses are read.
type Kind int

const (
	Standalone Kind = iota
	Sentinel
	Cluster
)

func (k Kind) String() string {
	switch k {
	case Standalone:
		return "standalone"
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Kind says which deployment c describes.
func (c Config) Kind() Kind {
	switch {
	case c.MasterName != "":
		return Sentinel
	case len(c.Addrs) > 1:
		return Cluster
	default:
		return Standalone
	}
}

// Validate says what is wrong with c without touching the network or the
// files it names.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("no Redis address"))
	}
	for _, a := range c.Addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("Redis address %q is not host:port", a))
		}
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("Redis database %d is negative", c.DB))
	}
	if c.DB != 0 && c.Kind() == Cluster {
		errs = append(errs, fmt.Errorf("Redis database %d with several addresses (a Cluster): a Cluster has only database 0", c.DB))
	}
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("a Redis password and a password file: set only one"))
	}
	if !c.TLS.Enable && (c.TLS.CAFile != "" || c.TLS.ServerName != "") {
		errs = append(errs, errors.New("a Redis TLS CA file or server name without TLS enabled"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"dial", c.DialTimeout}, {"read", c.ReadTimeout}, {"write", c.WriteTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("Redis %s timeout %v is negative", d.name, d.v))
		}
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("Redis pool size %d is negative", c.PoolSize))
	}
	return errors.Join(errs...)
}

// New returns a client for c: a *redis.Client, *redis.Client through
// Sentinel (failover) or *redis.ClusterClient by c.Kind(). It reads the
// password and CA files but does not connect: see Ping.
func New(c Config) (redis.UniversalClient, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	password := c.Password
	if c.PasswordFile != "" {
		var err error
		if password, err = readPassword(c.PasswordFile); err != nil {
			return nil, err
		}
	}
	var tlsConfig *tls.Config
	if c.TLS.Enable {
		var err error
		if tlsConfig, err = c.TLS.config(); err != nil {
			return nil, err
		}
	}
	o := &redis.UniversalOptions{
		Addrs:        c.Addrs,
		MasterName:   c.MasterName,
		Username:     c.Username,
		Password:     password,
		DB:           c.DB,
		TLSConfig:    tlsConfig,
		DialTimeout:  c.DialTimeout,
		ReadTimeout:  c.ReadTimeout,
		WriteTimeout: c.WriteTimeout,
		PoolSize:     c.PoolSize,
		// No CLIENT SETINFO and no maintenance-notification handshake:
		// one round trip less per connection, and no warnings from servers
		// older than 7.2 that lack them.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// No retries: the stores' scripts are not idempotent (a code
		// attempt, a sequence number), and a script whose connection broke
		// after it was sent may have run; sent again it could run twice. A
		// failed command is an error (UNAVAILABLE) the caller may retry.
		// A Cluster still follows MOVED and ASK (MaxRedirects), which run
		// nothing twice; its own resending of a command that failed on the
		// network is stopped by noResendHook (below).
		MaxRetries: -1,
	}
	switch c.Kind() {
	case Sentinel:
		return redis.NewFailoverClient(o.Failover()), nil
	case Cluster:
		co := o.Cluster()
		// The Cluster client resends a command that failed on the network
		// (a read timeout, a broken connection) within its MaxRedirects
		// loop, whatever MaxRetries says. Each node's client hides such
		// errors from it, so only MOVED, ASK and the server's refusals
		// (TRYAGAIN, CLUSTERDOWN: nothing ran) are followed.
		co.NewClient = func(no *redis.Options) *redis.Client {
			c := redis.NewClient(no)
			c.AddHook(noResendHook{})
			return c
		}
		return redis.NewClusterClient(co), nil
	default:
		return redis.NewClient(o.Simple()), nil
	}
}

// noResendHook turns an error after which a command may have run on the
// server (a timeout or a broken connection once it was sent) into one that
// go-redis does not retry.
type noResendHook struct{}

func (noResendHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (noResendHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if mayHaveRun(err) {
			err = &sentError{err: err}
			cmd.SetErr(err)
		}
		return err
	}
}

func (noResendHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// mayHaveRun reports whether err failed a command that the server may
// have received and run: a network error other than a failed dial. A
// reply of the server (an error it sent), a dial error, a pool timeout and
// the caller's own cancellation are not.
func mayHaveRun(err error) bool {
	if err == nil {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// sentError is a command's failure after it was sent: it may have run.
// It does not unwrap to the network error, so that no retry logic of
// go-redis recognises it.
type sentError struct{ err error }

func (e *sentError) Error() string {
	return "redis: no reply to a command that may have run: " + e.err.Error()
}

// readPassword reads a password file after secretfile's checks; one
// trailing newline is not part of the password.
func readPassword(path string) (string, error) {
	b, err := secretfile.Read(path)
	if err != nil {
		return "", fmt.Errorf("Redis password file: %w", err)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if p == "" {
		return "", fmt.Errorf("Redis password file %s is empty", path)
	}
	if strings.ContainsAny(p, "\r\n") {
		return "", fmt.Errorf("Redis password file %s holds more than one line", path)
	}
	return p, nil
}

func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("Redis TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("Redis TLS CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Ping checks that Redis answers: the server, the Sentinel's current master,
// or every master of a Cluster (one unreachable master makes part of the
// keys unreachable). Its error is a fault.ErrUnavailable.
func Ping(ctx context.Context, c redis.UniversalClient) error {
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			if err := n.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("%s: %w", n.Options().Addr, err)
			}
			return nil
		})
	} else {
		err = c.Ping(ctx).Err()
	}
	if err != nil {
		return fault.Unavailable(fmt.Errorf("redis ping: %w", err))
	}
	return nil
}
