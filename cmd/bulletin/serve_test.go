package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
