package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/smtp/tlstest"
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
	cert := tlstest.SelfSigned(t, "mx.news.test")
	certFile, keyFile := cert.WritePEM(t, dir)
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
	if !ok || len(st.PeerCertificates) == 0 || !bytes.Equal(st.PeerCertificates[0].Raw, cert.DER) {
		t.Fatal("the inbound port did not present the configured certificate")
	}
}

// TestServeStopsDespiteSpareConnection: a connection that never begins a
// request, as browsers open ahead of need, is closed once the requests'
// grace is over. net/http's Shutdown counts it busy until it is 5 s old,
// which made every restart after a page load take 5 s.
func TestServeStopsDespiteSpareConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	s.shutdown(t)
	if d := time.Since(start); d >= 4500*time.Millisecond {
		t.Errorf("serve took %v to stop with a spare connection open; the grace is %v", d, shutdownGrace)
	}
	// The server closed it: a read ends instead of waiting.
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the spare connection is still open after the stop: %v", err)
	}
}
