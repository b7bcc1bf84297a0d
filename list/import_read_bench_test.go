package list

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// BenchmarkImportRead reads and checks 100,000 rows of the import
// benchmark's file without a store: the share of an import that is CSV.
func BenchmarkImportRead(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("email,name,city\n")
	const n = 100_000
	for i := range n {
		k := (i*7919 + 13) % n
		fmt.Fprintf(&buf, "user%07d@example%d.com,\"User %d\",City%d\n", k, k%97, k, k%50)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ir, err := newImportReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			_, perr, err := ir.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || perr != nil {
				b.Fatal(err, perr)
			}
			rows++
		}
		if rows != n {
			b.Fatalf("%d rows, want %d", rows, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
