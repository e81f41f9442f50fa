package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/s3test"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// writeTestCert writes a CA and a certificate for 127.0.0.1 signed by it as PEM files in dir.
func writeTestCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", kb)
}

// TestClusterAPIOverTLS: serve with --cluster-tls-cert/--cluster-tls-key serves its internal
// API over TLS only (an unsigned request over TLS gets 401, plain HTTP gets no API); a key
// that does not load stops the start naming the flag.
func TestClusterAPIOverTLS(t *testing.T) {
	testtool.Short(t)
	b := s3test.New(t)
	ca, cert, key := writeTestCert(t, t.TempDir())
	capi := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	startProductIn(t, t.TempDir(), b.Env(), "--storage", "s3://"+b.Name+"/tls", "--node-id", "tls-node", "--cluster-addr", capi,
		"--cluster-secret", "0123456789abcdef-tls", "--cluster-tls-cert", cert, "--cluster-tls-key", key, "--cluster-tls-ca", ca)
	pool := x509.NewCertPool()
	pb, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(pb)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get("https://" + capi + "/cluster/v1/calls")
	if err != nil {
		t.Fatalf("internal API over TLS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned request over TLS: %d", res.StatusCode)
	}
	if res, err := http.Get("http://" + capi + "/cluster/v1/calls"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS internal API: %d", res.StatusCode)
		}
	}

	err = run(t.Context(), []string{"serve", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0",
		"--storage", "s3://" + b.Name + "/tls2", "--node-id", "tls-bad", "--cluster-addr", "127.0.0.1:0", "--cluster-advertise", "127.0.0.1:1",
		"--cluster-secret", "0123456789abcdef-tls", "--cluster-tls-cert", cert, "--cluster-tls-key", ca}, func(k string) string { return b.Env()[k] }, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "--cluster-tls-cert/--cluster-tls-key") {
		t.Errorf("serve with a key that is no key: %v", err)
	}
}
