package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestCompactCommand(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	cfg := config{Data: data}
	big := bytes.Repeat([]byte("x"), 32<<10)
	err := withInstance(t.Context(), cfg, io.Discard, func(in *instance) error {
		for i := range 100 {
			if err := in.db.PutSetting(t.Context(), fmt.Sprintf("test.blob.%03d", i), big); err != nil {
				return err
			}
		}
		for i := range 100 {
			if err := in.db.PutSetting(t.Context(), fmt.Sprintf("test.blob.%03d", i), []byte("small")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(data, "bulletin.db")
	before, _ := os.Stat(path)

	s := startServer(t, data)
	// Refused at once, without claiming a start or pointing at a --server
	// that compact does not have.
	if code, out := runCmd(t, nil, "compact", "--data", data); code != 2 || !strings.Contains(out, "is in use by a running server: stop it first") ||
		strings.Contains(out, "Compacting") || strings.Contains(out, "--server") {
		t.Errorf("compact of a running store: exit %d, %q", code, out)
	}
	s.shutdown(t)

	code, out := runCmd(t, nil, "compact", "--data", data)
	if code != 0 || !strings.Contains(out, "Compacted "+path) || !strings.Contains(out, "→") {
		t.Fatalf("compact: exit %d\n%s", code, out)
	}
	t.Log(strings.TrimSpace(out))
	if !strings.Contains(out, "this may take a while") || !strings.Contains(out, "compact: compacting: counting the records first") || !strings.Contains(out, "compact: checking the copy") || !strings.Contains(out, "smaller, ") {
		t.Errorf("compact does not say it starts, how far it is, or how much it saved:\n%s", out)
	}
	// A second compaction has nothing to reclaim: it says so, with no
	// "-0.0% smaller".
	if code, out := runCmd(t, nil, "compact", "--data", data); code != 0 || !strings.Contains(out, "no free space to reclaim") || strings.Contains(out, "-0") {
		t.Errorf("second compact: exit %d\n%s", code, out)
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size()/2 {
		t.Errorf("store is %d bytes after compact, was %d", after.Size(), before.Size())
	}
	err = withInstance(t.Context(), cfg, io.Discard, func(in *instance) error {
		v, err := in.db.Setting(t.Context(), "test.blob.042")
		if err != nil || string(v) != "small" {
			return fmt.Errorf("setting after compact = %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if code, out := runCmd(t, nil, "compact", "--data", filepath.Join(t.TempDir(), "none")); code != 1 || !strings.Contains(out, "no store") {
		t.Errorf("compact without a store: exit %d, %q", code, out)
	}
}

// TestCompactInterrupted: a compaction stopped by Ctrl-C leaves the store
// as it was and says so, with the exit code of an interrupt.
func TestCompactInterrupted(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	seed(t, data, 400)
	path := filepath.Join(data, "bulletin.db")
	before, _ := os.Stat(path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	code := exitCode(run(ctx, []string{"compact", "--data", data}, func(string) string { return "" }, &out, &out), &out)
	if code != 130 || !strings.Contains(out.String(), "the store was not compacted") {
		t.Errorf("compact interrupted: exit %d\n%s", code, out.String())
	}
	if after, err := os.Stat(path); err != nil || after.Size() != before.Size() {
		t.Errorf("store after an interrupted compact: %v, %v (was %d bytes)", after, err, before.Size())
	}
	if ents, _ := os.ReadDir(data); len(ents) != 2 { // bulletin.db and outbox
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("data folder after an interrupted compact holds %q", names)
	}
}

func TestStepLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		step        string
		done, total int64
		want        string
	}{
		{list.StepCopy, 512 << 20, 1 << 30, "copying the store 50% (512.0 MiB of 1.0 GiB)"},
		{list.StepCompact, 1234, 5000, "compacting 25% (1234 of 5000 records)"},
		{list.StepWrite, 0, 100, "writing the copy 0% (0 B of 100 B)"},
		{list.StepCompact, 0, 0, "compacting: counting the records first"},
		{stepReceive, 3 << 20, -1, "receiving the copy: 3.0 MiB"},
		{stepReceive, 200, 100, "receiving the copy 100% (200 B of 100 B)"},
		{list.StepCheck, 0, 0, "checking the copy"},
	} {
		if got := stepLine(tc.step, tc.done, tc.total); got != tc.want {
			t.Errorf("stepLine(%q, %d, %d) = %q, want %q", tc.step, tc.done, tc.total, got, tc.want)
		}
	}
}

func TestCompactResult(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		before, after int64
		want          string
	}{
		{100 << 20, 40 << 20, "100.0 MiB → 40.0 MiB (60.0 MiB smaller, 60.0%)."},
		{372 << 20, 372<<20 + 100<<10, "372.0 MiB → 372.1 MiB (100.0 KiB larger: there was no free space to reclaim)."},
		{8 << 20, 8 << 20, "8.0 MiB → 8.0 MiB (no smaller: there was no free space to reclaim)."},
	} {
		if got := compactResult(tc.before, tc.after); got != tc.want {
			t.Errorf("compactResult(%d, %d) = %q, want %q", tc.before, tc.after, got, tc.want)
		}
	}
}
