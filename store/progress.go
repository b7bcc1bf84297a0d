package store

import (
	"context"
	"io"

	"github.com/bulletin/bulletin/list"
)

// stepWriter counts the bytes of a step written through it and reports
// them to ctx's list.ProgressFunc, and fails its writes once ctx ends, so that
// a long copy into it stops at the next write.
type stepWriter struct {
	ctx      context.Context
	w        io.Writer
	step     string
	done     int64
	total    int64
	progress list.ProgressFunc
}

func newStepWriter(ctx context.Context, w io.Writer, step string, total int64) *stepWriter {
	return &stepWriter{ctx: ctx, w: w, step: step, total: total, progress: list.ProgressFuncOf(ctx)}
}

func (s *stepWriter) Write(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.w.Write(p)
	s.done += int64(n)
	s.progress(s.step, s.done, s.total)
	return n, err
}
