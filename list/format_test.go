package list_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := list.FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestContextReader: the copy goes through while the context lives and
// stops with its error once it ends.
func TestContextReader(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if _, err := io.Copy(&out, list.ContextReader(t.Context(), strings.NewReader("abc"))); err != nil || out.String() != "abc" {
		t.Fatalf("copy = %q, %v", out.String(), err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := io.Copy(io.Discard, list.ContextReader(ctx, strings.NewReader("abc"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("copy after cancel: %v", err)
	}
}
