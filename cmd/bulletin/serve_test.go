package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// TestServePortInUse checks that a first start whose --http or --smtp-in
// port is taken fails naming the flag and the address, before the store is
// made and the one-time admin password printed: that password would
// otherwise belong to a store the operator never saw served.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--http", "--smtp-in"} {
		t.Run(flag, func(t *testing.T) {
			t.Parallel()
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			addr := taken.Addr().String()
			data := filepath.Join(t.TempDir(), "data")
			args := []string{"serve", "--data", data, "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0", flag, addr}
			code, out := runServeOnce(t, nil, args...)
			if want := flag + " " + addr + ":"; code != 1 || !strings.Contains(out, want) {
				t.Errorf("serve %s %s (taken) = exit %d, want 1 naming %q:\n%s", flag, addr, code, want, out)
			}
			if strings.Contains(strings.ToLower(out), "password") {
				t.Errorf("serve %s %s (taken) printed a password before failing:\n%s", flag, addr, out)
			}
			if _, err := os.Stat(filepath.Join(data, "bulletin.db")); err == nil {
				t.Errorf("serve %s %s (taken) made the store before failing", flag, addr)
			}
		})
	}
}

// TestServeInboundSTARTTLS starts serve with an inbound certificate and
// checks that the inbound port offers STARTTLS with that very certificate.
func TestServeInboundSTARTTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, der := writeSelfSigned(t, dir, "mx.news.test")
	s := startServer(t, filepath.Join(dir, "data"), "--smtp-in-tls-cert", certFile, "--smtp-in-tls-key", keyFile)
	// DialStartTLS fails when STARTTLS is not offered.
	c, err := gosmtp.DialStartTLS(s.smtpIn, &tls.Config{ServerName: "mx.news.test", InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("STARTTLS on the inbound port: %v", err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil { // completes the handshake
		t.Fatal(err)
	}
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 || !bytes.Equal(st.PeerCertificates[0].Raw, der) {
		t.Fatal("the inbound port did not present the configured certificate")
	}
}

// writeSelfSigned writes a self-signed certificate for host and its key as
// PEM files in dir, and returns their paths and the certificate's DER.
func writeSelfSigned(t *testing.T, dir, host string) (certFile, keyFile string, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, b := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, der
}
