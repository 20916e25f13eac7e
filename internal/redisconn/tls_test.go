package redisconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/redisconn"
	"github.com/callverify/callverify/internal/redistest"
)

// testCA returns a CA's PEM and a server certificate and key it signed for
// the name redis.test.
func testCA(t *testing.T) (caPEM, certPEM, keyPEM string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redistest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis.test"}, DNSNames: []string{"redis.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	return enc("CERTIFICATE", caDER), enc("CERTIFICATE", leafDER), enc("EC PRIVATE KEY", keyDER)
}

func TestTLSVerifiesTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	caPEM, certPEM, keyPEM := testCA(t)
	caFile := writeFile(t, "ca.pem", caPEM, 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	redistest.NewServer(t, redistest.Options{Args: []string{
		"--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", writeFile(t, "cert.pem", certPEM, 0o644),
		"--tls-key-file", writeFile(t, "key.pem", keyPEM, 0o600),
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no",
	}})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	for _, tc := range []struct {
		name    string
		tls     redisconn.TLS
		wantErr string // "" = Ping succeeds
	}{
		{"our CA and the certificate's name", redisconn.TLS{Enable: true, CAFile: caFile, ServerName: "redis.test"}, ""},
		{"another name", redisconn.TLS{Enable: true, CAFile: caFile, ServerName: "other.test"}, "certificate is valid for redis.test, not other.test"},
		{"the system's roots", redisconn.TLS{Enable: true, ServerName: "redis.test"}, "certificate signed by unknown authority"},
	} {
		c, err := redisconn.New(redisconn.Config{Addrs: []string{addr}, TLS: tc.tls, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = redisconn.Ping(ctx, c)
		c.Close()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Ping = %v, want nil", tc.name, err)
		case tc.wantErr != "" && (!errors.Is(err, fault.ErrUnavailable) || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: Ping = %v, want unavailable: %s", tc.name, err, tc.wantErr)
		}
	}
}

func TestTLSCAFileMustHoldACertificate(t *testing.T) {
	t.Parallel()
	cfg := redisconn.Config{Addrs: []string{"127.0.0.1:1"}, TLS: redisconn.TLS{Enable: true, CAFile: writeFile(t, "ca.pem", "not PEM", 0o644)}}
	if _, err := redisconn.New(cfg); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("New = %v, want an error saying the CA file holds no PEM certificate", err)
	}
}
