package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// needRE finds the sizes in the refusal of a file cut short.
var needRE = regexp.MustCompile(`has (\d+) bytes, its header needs at least (\d+)`)

// TestTruncatedStoreRefused: a store or backup cut short (a full disk,
// an interrupted copy) made bbolt fault reading past its end, killing
// every command with SIGSEGV and exit code 2. Restore now refuses such a
// backup, and the commands that open the store refuse such a store, with
// exit code 1 and a message naming the problem, changing nothing.
func TestTruncatedStoreRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	seed(t, data, 300)
	backup := filepath.Join(dir, "b.db")
	if code, out := runCmd(t, nil, "backup", "--data", data, backup); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	whole, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	// The backup's pages end before its file does (bbolt grows files in
	// steps): the first refusal says where, the others are cut before it.
	need := -1
	for _, n := range []int{16 << 10, 98304, -2, -1} {
		switch n {
		case -2:
			n = need / 2
		case -1:
			n = need - 1
		}
		cut := filepath.Join(dir, fmt.Sprintf("cut-%d.db", n))
		if err := os.WriteFile(cut, whole[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, fmt.Sprintf("restored-%d", n))
		code, out := runCmd(t, nil, "restore", "--data", target, cut)
		m := needRE.FindStringSubmatch(out)
		if need < 0 && m != nil {
			need, _ = strconv.Atoi(m[2])
		}
		if code != 1 || !strings.Contains(out, "truncated or damaged") || m == nil || m[1] != strconv.Itoa(n) || m[2] != strconv.Itoa(need) {
			t.Fatalf("restore of a backup cut to %d of %d bytes: exit %d\n%s", n, len(whole), code, out)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("restore of a cut backup left %s behind", target)
		}
	}

	// The store itself cut short.
	storePath := filepath.Join(data, "bulletin.db")
	half := whole[:need/2]
	if err := os.WriteFile(storePath, half, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BULLETIN_ADMIN_PASSWORD": testPassword}
	for _, args := range [][]string{
		{"serve", "--data", data, "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0"},
		{"compact", "--data", data},
		{"export", "--data", data},
		{"backup", "--data", data, filepath.Join(dir, "b2.db")},
	} {
		code, out := runCmd(t, env, args...)
		if code != 1 || !strings.Contains(out, "truncated or damaged") || !strings.Contains(out, "restore the newest backup") {
			t.Errorf("%s on a cut store: exit %d\n%s", args[0], code, out)
		}
	}
	// doctor checks what it can and says what to do about the store.
	ns := zoneServer(t)
	if _, out := runCmd(t, nil, "doctor", "--data", data, "--resolver", ns); !strings.Contains(out, "truncated or damaged") || !strings.Contains(out, "restore the newest backup") {
		t.Errorf("doctor on a cut store:\n%s", out)
	}
	if b, err := os.ReadFile(storePath); err != nil || len(b) != len(half) {
		t.Errorf("the cut store changed: %d bytes, %v", len(b), err)
	}
}
