package list

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Spill sorts more byte records than memory should hold: records collect in
// an arena up to a budget, each full arena is sorted and appended to one
// temporary file as a run, and the runs are merged when read back. Memory is
// the arena plus one read buffer per run, whatever the number of records.
type Spill struct {
	dir    string
	cmp    func(a, b []byte) int
	budget int
	// The arena is a list of chunks, so that records are never copied as
	// it grows; free keeps the chunks of the last run for the next one.
	chunks, free [][]byte
	recs         []spillRec
	used         int // bytes in the arena
	f            *os.File
	w            *bufio.Writer
	runs         [][2]int64 // offset and length of each run in f
	size         int64
	n            int // records added
}

// spillRec is where one record lies in the arena.
type spillRec struct{ chunk, start, end int32 }

// Sizes: an arena chunk, and the read buffer of one run while merging.
const (
	spillChunk   = 1 << 20
	spillReadBuf = 32 << 10
)

// NewSpill makes a sorter of records ordered by cmp that keeps about
// budget bytes in memory and spills the rest to a temporary file in dir
// (os.TempDir when empty). The import sorts its rows with it, the store
// its deferred name index entries.
func NewSpill(dir string, budget int, cmp func(a, b []byte) int) *Spill {
	return &Spill{dir: dir, budget: budget, cmp: cmp}
}

// Len is the number of records added.
func (s *Spill) Len() int { return s.n }

// Add copies rec into the sorter.
func (s *Spill) Add(rec []byte) error {
	if s.used+len(rec) > s.budget && len(s.recs) > 0 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.n++
	c := len(s.chunks) - 1
	if c < 0 || len(s.chunks[c])+len(rec) > cap(s.chunks[c]) {
		var chunk []byte
		if n := len(s.free); n > 0 && len(rec) <= spillChunk {
			chunk, s.free = s.free[n-1], s.free[:n-1]
		} else {
			chunk = make([]byte, 0, max(spillChunk, len(rec)))
		}
		s.chunks, c = append(s.chunks, chunk), c+1
	}
	start := len(s.chunks[c])
	s.chunks[c] = append(s.chunks[c], rec...)
	s.recs = append(s.recs, spillRec{int32(c), int32(start), int32(len(s.chunks[c]))})
	s.used += len(rec)
	return nil
}

func (s *Spill) rec(r spillRec) []byte { return s.chunks[r.chunk][r.start:r.end] }

func (s *Spill) sortArena() {
	slices.SortFunc(s.recs, func(a, b spillRec) int { return s.cmp(s.rec(a), s.rec(b)) })
}

// reset empties the arena, keeping its chunks for the next run.
func (s *Spill) reset() {
	for _, c := range s.chunks {
		if cap(c) == spillChunk {
			s.free = append(s.free, c[:0])
		}
	}
	s.chunks, s.recs, s.used = s.chunks[:0], s.recs[:0], 0
}

// flush sorts the arena and writes it as a run. The file is unlinked as soon
// as it is made, where the system allows, so that a crash leaves nothing.
func (s *Spill) flush() error {
	s.sortArena()
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "bulletin-spill-*.tmp")
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		os.Remove(f.Name()) // fails on Windows; close removes it there
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
	}
	start := s.size
	var n [binary.MaxVarintLen64]byte
	for _, rr := range s.recs {
		r := s.rec(rr)
		l := binary.PutUvarint(n[:], uint64(len(r)))
		s.w.Write(n[:l])
		s.w.Write(r)
		s.size += int64(l + len(r))
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.runs = append(s.runs, [2]int64{start, s.size - start})
	s.reset()
	return nil
}

// Each calls fn with every record in order; rec is valid during the call
// only. It may be called once.
func (s *Spill) Each(fn func(rec []byte) error) error {
	if len(s.runs) == 0 {
		s.sortArena()
		for _, r := range s.recs {
			if err := fn(s.rec(r)); err != nil {
				return err
			}
		}
		s.chunks, s.free, s.recs = nil, nil, nil
		return nil
	}
	if len(s.recs) > 0 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.chunks, s.free, s.recs = nil, nil, nil
	h := &runHeap{cmp: s.cmp}
	for i, r := range s.runs {
		c := &runCursor{r: bufio.NewReaderSize(io.NewSectionReader(s.f, r[0], r[1]), spillReadBuf), seq: i}
		if ok, err := c.next(); err != nil {
			return err
		} else if ok {
			h.cs = append(h.cs, c)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		c := h.cs[0]
		if err := fn(c.rec); err != nil {
			return err
		}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// Close removes the temporary file.
func (s *Spill) Close() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
}

// runCursor reads the records of one run.
type runCursor struct {
	r   *bufio.Reader
	rec []byte
	seq int // run order, so that equal records keep the order they were added in
}

func (c *runCursor) next() (bool, error) {
	n, err := binary.ReadUvarint(c.r)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("spill: read: %w", err)
	}
	c.rec = slices.Grow(c.rec[:0], int(n))[:n]
	if _, err := io.ReadFull(c.r, c.rec); err != nil {
		return false, fmt.Errorf("spill: read: %w", err)
	}
	return true, nil
}

type runHeap struct {
	cs  []*runCursor
	cmp func(a, b []byte) int
}

func (h *runHeap) Len() int { return len(h.cs) }
func (h *runHeap) Less(i, j int) bool {
	if c := h.cmp(h.cs[i].rec, h.cs[j].rec); c != 0 {
		return c < 0
	}
	return h.cs[i].seq < h.cs[j].seq
}
func (h *runHeap) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *runHeap) Push(x any)    { h.cs = append(h.cs, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}
