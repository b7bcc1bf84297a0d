package list_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// benchCSV is n rows in the shuffled order of bench/importbench, so that
// index inserts land all over the key space.
func benchCSV(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("email,name,city\n")
	for i := range n {
		k := (i*7919 + 13) % n
		fmt.Fprintf(&buf, "user%07d@example%d.com,User %d,City%d\n", k, k%97, k, k%50)
	}
	return buf.Bytes()
}

// BenchmarkImport imports 100,000 rows (IMPORT_ROWS; confirmed) into a
// fresh store per iteration, through the real store with fsync on commit,
// in batches of IMPORT_BATCH rows (the default when unset).
func BenchmarkImport(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("IMPORT_ROWS")); err == nil && v > 0 {
		n = v
	}
	data := benchCSV(n)
	for b.Loop() {
		b.StopTimer()
		db, err := store.Open(filepath.Join(b.TempDir(), "b.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		svc, err := list.New(list.Options{Store: db, Mailer: nopMailer{}, Secret: []byte("0123456789abcdef0123456789abcdef")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.CreateList(b.Context(), list.List{Slug: "news", Name: "News"}, list.Origin{}); err != nil {
			b.Fatal(err)
		}
		w0, c0 := writeBytes(), cpuTime()
		b.StartTimer()
		res, err := svc.Import(b.Context(), bytes.NewReader(data), list.ImportOptions{List: "news",
			Mode: list.ImportConfirmed, Reason: "benchmark", BatchSize: benchBatch()})
		if err != nil {
			b.Fatal(err)
		}
		if res.Imported != n {
			b.Fatalf("imported %d, want %d", res.Imported, n)
		}
		b.StopTimer()
		b.ReportMetric(float64(db.Size())/float64(n), "file-B/row")
		b.ReportMetric(float64(cpuTime()-c0)/float64(n), "cpu-ns/row")
		if w0 >= 0 {
			b.ReportMetric(float64(writeBytes()-w0)/float64(n), "written-B/row")
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// writeBytes is this process's write_bytes from /proc/self/io, or -1.
func writeBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchBatch is the batch size from IMPORT_BATCH, or the default.
func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("IMPORT_BATCH"))
	return n
}
