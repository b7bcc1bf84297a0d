// Command importbench measures the CSV import through the real bulletin
// binary (bulletin import on a stopped store), and in the same run a bare
// bbolt program that writes the same keys per row in 10,000-row
// transactions, so the import's rate can be judged against what the disk
// and bbolt allow on this machine. The bare program runs twice: in file
// order (the baseline of the target) and in the order the import writes,
// rows by address and the name entries sorted at the end (for reference).
//
//	go run ./bench/importbench -n 1000000
//
// It prints rows/s and the peak anonymous memory (RssAnon from
// /proc/PID/status; bbolt's file mapping makes plain RSS misleading) of
// both, and never fails on timing.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

func main() {
	n := flag.Int("n", 1_000_000, "rows in the CSV file")
	dir := flag.String("dir", "", "work folder (a temporary one by default)")
	bare := flag.String("bare", "", "internal: run the bare bbolt writer on this CSV file")
	sorted := flag.Bool("sorted", false, "internal: the bare writer writes in key order")
	out := flag.String("out", "", "internal: bbolt file of the bare writer")
	flag.Parse()
	if *bare != "" {
		write := bareWrite
		if *sorted {
			write = bareWriteSorted
		}
		if err := write(*bare, *out); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(*n, *dir); err != nil {
		log.Fatal(err)
	}
}

func run(n int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "importbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := filepath.Join(dir, "bulletin")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/bulletin").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	self := filepath.Join(dir, "importbench")
	if out, err := exec.Command("go", "build", "-o", self, "./bench/importbench").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	csv := filepath.Join(dir, "subscribers.csv")
	size, err := writeCSV(csv, n)
	if err != nil {
		return err
	}
	fmt.Printf("CSV: %d rows, %.1f MB, header email,name,city\n\n", n, float64(size)/1e6)

	imp := exec.Command(bin, "import", "--data", filepath.Join(dir, "data"), "--list", "newsletter",
		"--mode", "confirmed", "--reason", "benchmark", csv)
	imp.Env = append(os.Environ(), "BULLETIN_LOG_FORMAT=text")
	ir, err := measure(imp)
	if err != nil {
		return fmt.Errorf("bulletin import: %v\n%s", err, ir.output)
	}
	br, err := measure(exec.Command(self, "-bare", csv, "-out", filepath.Join(dir, "bare.db")))
	if err != nil {
		return fmt.Errorf("bare writer: %v\n%s", err, br.output)
	}
	sr, err := measure(exec.Command(self, "-bare", csv, "-sorted", "-out", filepath.Join(dir, "bare-sorted.db")))
	if err != nil {
		return fmt.Errorf("bare sorted writer: %v\n%s", err, sr.output)
	}
	fmt.Printf("%-40s %12s %10s %14s %12s\n", "", "rows/s", "seconds", "peak RssAnon", "file")
	fmt.Printf("%-40s %12.0f %10.1f %11.1f MB %9.0f MB\n", "bulletin import (10,000-row txs)", float64(n)/ir.secs, ir.secs, ir.rssMB,
		fileMB(filepath.Join(dir, "data", "bulletin.db")))
	fmt.Printf("%-40s %12.0f %10.1f %11.1f MB %9.0f MB\n", "bare bbolt, same keys (10,000-row txs)", float64(n)/br.secs, br.secs, br.rssMB,
		fileMB(filepath.Join(dir, "bare.db")))
	fmt.Printf("%-40s %12.0f %10.1f %11.1f MB %9.0f MB\n", "bare bbolt, same keys in key order", float64(n)/sr.secs, sr.secs, sr.rssMB,
		fileMB(filepath.Join(dir, "bare-sorted.db")))
	fmt.Printf("\nimport / bare = %.2f (the target)\nimport / bare in key order = %.2f\n", br.secs/ir.secs, sr.secs/ir.secs)
	fmt.Printf("\nlast lines of bulletin import:\n%s\n", lastLines(ir.output, 3))
	return nil
}

// writeCSV writes n rows with distinct addresses in a shuffled order, so
// that index inserts land all over the key space as real lists do.
func writeCSV(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("email,name,city\n")
	for i := range n {
		k := (i*7919 + 13) % n // a permutation when n is not a multiple of 7919
		fmt.Fprintf(w, "user%07d@example%d.com,User %d,City%d\n", k, k%97, k, k%50)
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), f.Close()
}

type result struct {
	secs   float64
	rssMB  float64
	output string
}

// measure runs cmd and samples its RssAnon every 20 ms.
func measure(cmd *exec.Cmd) (result, error) {
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peak := 0
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return result{secs: time.Since(start).Seconds(), rssMB: float64(peak) / 1024, output: buf.String()}, err
		case <-t.C:
			peak = max(peak, rssAnonKB(cmd.Process.Pid))
		}
	}
}

// fileMB is the size of a file in MB, or 0 when it cannot be read.
func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / 1e6
}

func rssAnonKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// bareWrite writes, for each CSV row in file order, the keys an import writes: the
// subscriber record (JSON of the same shape), its identity and name index
// entries, the list membership, one event, and the list and subscriber
// counters; 10,000 rows per transaction, fsync on each commit.
func bareWrite(csvPath, out string) error {
	db, err := bolt.Open(out, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer db.Close()
	names := []string{"subscribers", "sub_identity", "sub_name", "members", "events", "list_counts", "meta"}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range names {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	f, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var rows [][]string
	flush := func() error {
		err := db.Update(func(tx *bolt.Tx) error {
			for _, r := range rows {
				if err := writeRow(tx, r, nil); err != nil {
					return err
				}
			}
			return nil
		})
		rows = rows[:0]
		return err
	}
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), ","))
		if len(rows) == 10000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return sc.Err()
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// writeRow writes the keys of one row; with deferName set, the name entry
// goes to it instead of the bucket.
func writeRow(tx *bolt.Tx, r []string, deferName func(k, v []byte)) error {
	subs, ident, names, members := tx.Bucket([]byte("subscribers")), tx.Bucket([]byte("sub_identity")),
		tx.Bucket([]byte("sub_name")), tx.Bucket([]byte("members"))
	events, counts, meta := tx.Bucket([]byte("events")), tx.Bucket([]byte("list_counts")), tx.Bucket([]byte("meta"))
	if ident.Get([]byte(r[0])) != nil {
		return nil
	}
	id, _ := subs.NextSequence()
	// Values of the size the import writes, formatted without an encoder:
	// the bare writer pays for bbolt only.
	now := time.Now().UTC().Format(time.RFC3339Nano)
	val := fmt.Appendf(nil, `{"id":%d,"email":%q,"name":%q,"attributes":{"city":%q},"blocklisted":false,"created_at":%q,"updated_at":%q,"identity":%q,"nonce":%d,"subscriptions":[{"list_id":1,"state":"confirmed","created_at":%q,"confirmed_at":%q,"unsubscribed_at":null,"consent":{"source":"import","text":"","text_version":0,"privacy_url":"","reason":"benchmark","at":%q,"confirmed_at":%q}}]}`,
		id, r[0], r[1], r[2], now, now, r[0], id, now, now, now, now)
	if err := subs.Put(u64(id), val); err != nil {
		return err
	}
	if err := ident.Put([]byte(r[0]), u64(id)); err != nil {
		return err
	}
	nk := append(append([]byte(strings.ToLower(r[1])), 0), u64(id)...)
	if deferName != nil {
		deferName(nk, []byte(r[0]))
	} else if err := names.Put(nk, []byte(r[0])); err != nil {
		return err
	}
	if err := members.Put(append(u64(1), u64(id)...), make([]byte, 9)); err != nil {
		return err
	}
	eid, _ := events.NextSequence()
	ev := fmt.Appendf(nil, `{"id":%d,"subscriber_id":%d,"list_id":1,"kind":"confirmed","how":"import","at":%q,"detail":"benchmark"}`, eid, id, now)
	if err := events.Put(append(u64(id), u64(eid)...), ev); err != nil {
		return err
	}
	c := counts.Get(u64(1))
	n := uint64(0)
	if len(c) == 8 {
		n = binary.BigEndian.Uint64(c)
	}
	if err := counts.Put(u64(1), u64(n+1)); err != nil {
		return err
	}
	return meta.Put([]byte("subscribers"), u64(id))
}

// bareWriteSorted writes the same keys as bareWrite in the order the import
// writes them: rows sorted by address (in memory: this is a reference, not
// a bound on memory) in 10,000-row transactions, then the name entries
// sorted by key in 50,000-entry transactions, with the store's fill
// percents.
func bareWriteSorted(csvPath, out string) error {
	db, err := bolt.Open(out, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"subscribers", "sub_identity", "sub_name", "members", "events", "list_counts", "meta"} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	data, err := os.ReadFile(csvPath)
	if err != nil {
		return err
	}
	var rows [][]string
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i > 0 {
			rows = append(rows, strings.Split(line, ","))
		}
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	var names [][2][]byte
	for start := 0; start < len(rows); start += 10000 {
		err := db.Update(func(tx *bolt.Tx) error {
			tx.Bucket([]byte("subscribers")).FillPercent = 0.9
			tx.Bucket([]byte("events")).FillPercent = 0.9
			tx.Bucket([]byte("members")).FillPercent = 1.0
			for _, r := range rows[start:min(start+10000, len(rows))] {
				if err := writeRow(tx, r, func(k, v []byte) { names = append(names, [2][]byte{k, v}) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	slices.SortFunc(names, func(a, b [2][]byte) int { return bytes.Compare(a[0], b[0]) })
	for start := 0; start < len(names); start += 50000 {
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("sub_name"))
			b.FillPercent = 0.9
			for _, e := range names[start:min(start+50000, len(names))] {
				if err := b.Put(e[0], e[1]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
