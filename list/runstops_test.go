package list

import (
	"context"
	"testing"
)

// TestRunStopsKeepsALaterRun checks that an earlier run of a campaign,
// unregistering late, leaves a later run's registration in place, so that
// a pause still stops the later run at once.
func TestRunStopsKeepsALaterRun(t *testing.T) {
	var rs runStops
	first, cancelFirst := context.WithCancel(t.Context())
	defer cancelFirst()
	second, cancelSecond := context.WithCancel(t.Context())
	defer cancelSecond()
	removeFirst := rs.add(7, cancelFirst)
	removeSecond := rs.add(7, cancelSecond)
	removeFirst()
	rs.stop(7)
	if second.Err() == nil {
		t.Fatal("stop did not reach the later run")
	}
	if first.Err() != nil {
		t.Fatal("stop reached the earlier run, which had unregistered")
	}
	removeSecond()
	rs.stop(7) // nothing registered: no effect, no panic
	rs.stop(8)
}
