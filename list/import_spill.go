package list

import (
	"bytes"
	"cmp"
	"encoding/binary"
)

// appendImportRow encodes a row for the sorter: identity first, then the
// line, so that rows sort by identity and, for one identity, in file order.
func appendImportRow(b []byte, row *importRow) []byte {
	b = appendSpillString(b, row.identity)
	b = binary.AppendUvarint(b, uint64(row.line))
	b = appendSpillString(b, row.display)
	b = appendSpillString(b, row.name)
	b = binary.AppendUvarint(b, uint64(len(row.attrs)))
	for k, v := range row.attrs {
		b = appendSpillString(appendSpillString(b, k), v)
	}
	return b
}

func appendSpillString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// spillReader decodes what appendImportRow wrote.
type spillReader []byte

func (r *spillReader) uvarint() int {
	v, n := binary.Uvarint(*r)
	*r = (*r)[n:]
	return int(v)
}

func (r *spillReader) bytes() []byte {
	n := r.uvarint()
	b := (*r)[:n]
	*r = (*r)[n:]
	return b
}

func decodeImportRow(rec []byte) importRow {
	r := spillReader(rec)
	row := importRow{identity: string(r.bytes())}
	row.line = r.uvarint()
	row.display, row.name = string(r.bytes()), string(r.bytes())
	if n := r.uvarint(); n > 0 {
		row.attrs = make(map[string]string, n)
		for range n {
			k := string(r.bytes())
			row.attrs[k] = string(r.bytes())
		}
	}
	return row
}

func compareImportRows(a, b []byte) int {
	ra, rb := spillReader(a), spillReader(b)
	if c := bytes.Compare(ra.bytes(), rb.bytes()); c != 0 {
		return c
	}
	return cmp.Compare(ra.uvarint(), rb.uvarint())
}
