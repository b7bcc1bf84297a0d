package store

import (
	"bytes"
	"slices"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestPruneBounceRaw(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	add := func(raw []byte) {
		t.Helper()
		b := list.Bounce{Email: "a@example.com", Kind: list.BounceHard, Raw: raw}
		if err := db.AddBounce(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	raws := func() []int {
		t.Helper()
		bs, err := db.Bounces(ctx, list.BounceFilter{Email: "a@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, b := range bs {
			out = append(out, len(b.Raw))
		}
		return out
	}
	for range 5 {
		add(bytes.Repeat([]byte("r"), 3000)) // about 4.2 KB stored each
	}
	add(nil)
	n, err := db.PruneBounceRaw(ctx, 10_000)
	if err != nil || n != 3 {
		t.Fatalf("PruneBounceRaw(10000) = %d, %v; want 3", n, err)
	}
	if got, want := raws(), []int{0, 0, 0, 3000, 3000, 0}; !slices.Equal(got, want) {
		t.Errorf("raw sizes %v, want %v", got, want)
	}
	// Idempotent, and the watermark spares the pruned part.
	if n, err := db.PruneBounceRaw(ctx, 10_000); err != nil || n != 0 {
		t.Errorf("second prune = %d, %v; want 0", n, err)
	}
	add(bytes.Repeat([]byte("s"), 3000))
	if n, err := db.PruneBounceRaw(ctx, 10_000); err != nil || n != 1 {
		t.Errorf("prune after one more = %d, %v; want 1", n, err)
	}
	if got, want := raws(), []int{0, 0, 0, 0, 3000, 0, 3000}; !slices.Equal(got, want) {
		t.Errorf("raw sizes %v, want %v", got, want)
	}
	// Records keep everything but the raw message.
	bs, _ := db.Bounces(ctx, list.BounceFilter{Email: "a@example.com", Limit: 1})
	if bs[0].Kind != list.BounceHard || bs[0].Email != "a@example.com" {
		t.Errorf("pruned record = %+v", bs[0])
	}
}
