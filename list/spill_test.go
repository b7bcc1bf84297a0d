package list_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// TestSpillOrder: records come back in order, sorted in memory or merged
// from many spilled runs.
func TestSpillOrder(t *testing.T) {
	t.Parallel()
	for _, budget := range []int{1 << 20, 40} { // in memory; a run every few records
		sp := list.NewSpill(t.TempDir(), budget, bytes.Compare)
		for i := range 500 {
			if err := sp.Add(fmt.Appendf(nil, "%05d", i*7919%500)); err != nil {
				t.Fatal(err)
			}
		}
		want := 0
		err := sp.Each(func(rec []byte) error {
			if got := string(rec); got != fmt.Sprintf("%05d", want) {
				return fmt.Errorf("record %d = %q", want, got)
			}
			want++
			return nil
		})
		sp.Close()
		if err != nil || want != 500 {
			t.Errorf("budget %d: %v after %d records", budget, err, want)
		}
	}
}
