package list

import "context"

// Steps of a backup or a compaction, as a ProgressFunc is told them. Each
// is first reported with done 0, before its work begins.
const (
	// StepCopy is the copy of the store in one read transaction, counted
	// in bytes of the file.
	StepCopy = "copy"
	// StepCompact is the copy of every record into a new file without the
	// free pages, counted in keys (records and buckets).
	StepCompact = "compact"
	// StepWrite is the write of the compacted copy to the backup's
	// destination, counted in bytes: its first report comes before any
	// byte is written, so that an HTTP answer can announce its length.
	StepWrite = "write"
	// StepCheck is bbolt's consistency check of a new copy (a backup, a
	// compacted store) before it is kept; it has no count.
	StepCheck = "check"
)

// ProgressFunc is told how far a long operation has come: the step under way
// and how much of it is done out of total, in the step's unit (total 0
// when unknown). It is called often, from the operation's goroutine, and
// should return at once.
type ProgressFunc func(step string, done, total int64)

type progressKey struct{}

// WithProgressFunc returns a context that makes the store's Backup and
// CompactFile report to fn as they go. The callback rides in the context,
// as httptrace.WithClientTrace's does, so that only the callers that show
// progress (the command line, the backup download) pass one.
func WithProgressFunc(ctx context.Context, fn ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// ProgressFuncOf is ctx's ProgressFunc, or one that does nothing.
func ProgressFuncOf(ctx context.Context) ProgressFunc {
	if fn, ok := ctx.Value(progressKey{}).(ProgressFunc); ok && fn != nil {
		return fn
	}
	return func(string, int64, int64) {}
}
