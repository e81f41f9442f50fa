package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"callrec/media"
	"callrec/models"
)

// testCA makes a CA and a certificate for 127.0.0.1 signed by it.
func testCA(t *testing.T) (leaf tls.Certificate, roots *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callrec test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

// TestInternalAPIOverTLS: nodes serving and dialing TLS control each other's calls; a node
// that does not trust the peers' CA, or dials plain HTTP, gets nothing from them.
func TestInternalAPIOverTLS(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db.sqlite")
	leaf, roots := testCA(t)
	srv := &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}
	a := startNodeTLS(t, db, "node-a", secret, srv, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	b := startNodeTLS(t, db, "node-b", secret, srv, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	waitPeers(t, a, b)
	b.eng.calls["b-call"] = media.CallInfo{ID: "b-call", Arrival: time.Now(), Rec: media.RecOff}
	if _, err := b.store.SaveCall(t.Context(), models.CallRecord{EngineID: "b-call", Arrival: time.Now(), State: "connected"}); err != nil {
		t.Fatal(err)
	}
	if got := a.Calls(); len(got) != 1 || got[0].ID != "b-call" {
		t.Fatalf("a's view over TLS: %+v", got)
	}
	if info, err := a.StartRecording("b-call", "alice"); err != nil || info.Rec != media.RecRecording {
		t.Fatalf("start over TLS: %+v %v", info, err)
	}

	// Another CA's trust, or none (plain HTTP): no answer from b.
	_, otherRoots := testCA(t)
	for name, cli := range map[string]*tls.Config{"another CA": {RootCAs: otherRoots}, "plain HTTP": nil} {
		c := startNodeTLS(t, db, "node-c-"+map[bool]string{true: "tls", false: "plain"}[cli != nil], secret, srv, cli)
		if err := c.Beat(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StartRecording("b-call", "mallory"); !errors.Is(err, models.ErrNodeUnavailable) {
			t.Errorf("%s: start on b: %v", name, err)
		}
		c.kill()
	}
}
