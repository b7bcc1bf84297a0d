package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
)

// Steps the command line reports besides the store's (list.StepCopy and
// the others).
const (
	// stepReceive is a backup's download from a running server, in bytes
	// (total: the answer's Content-Length, or 0).
	stepReceive = "receive"
	// stepServer is the wait for a running server to copy and compact
	// the store before the first byte of a backup comes.
	stepServer = "server"
)

// stepProgress prints the progress of a backup or a compaction on w: a
// line when a step begins, then at most one a second, like the import's
// and the campaign send's progress lines.
type stepProgress struct {
	w    io.Writer
	mu   sync.Mutex // a backup's wait is told from a timer's goroutine
	cmd  string
	step string
	last time.Time
}

// report is a list.ProgressFunc.
func (p *stepProgress) report(step string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if step == p.step && now.Sub(p.last) < time.Second {
		return
	}
	p.step, p.last = step, now
	fmt.Fprintf(p.w, "%s: %s\n", p.cmd, stepLine(step, done, total))
}

// stepLine words how far a step is: "compacting 45% (1234 of 2742
// records)".
func stepLine(step string, done, total int64) string {
	what, records := step, false
	switch step {
	case list.StepCopy:
		what = "copying the store"
	case list.StepCompact:
		if done == 0 && total == 0 {
			return "compacting: counting the records first"
		}
		what, records = "compacting", true
	case list.StepWrite:
		what = "writing the copy"
	case stepReceive:
		what = "receiving the copy"
	case list.StepCheck:
		return "checking the copy"
	case stepServer:
		return "waiting for the server to copy and compact the store"
	}
	amount := func(n int64) string {
		if records {
			return fmt.Sprint(n)
		}
		return list.FormatBytes(n)
	}
	if total <= 0 {
		return fmt.Sprintf("%s: %s", what, amount(done))
	}
	pct := 100 * float64(min(done, total)) / float64(total)
	unit := ""
	if records {
		unit = " records"
	}
	return fmt.Sprintf("%s %.0f%% (%s of %s%s)", what, pct, amount(done), amount(total), unit)
}

// progressWriter reports the bytes written through it as step.
type progressWriter struct {
	w      io.Writer
	step   string
	done   int64
	total  int64
	report list.ProgressFunc
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report(p.step, p.done, p.total)
	return n, err
}
