package swrtoken

import "sync/atomic"

// counterStripes is the number of cells of a stripedCounter, a power of
// two. With more cells than cores, two cores rarely add to the same cell.
const counterStripes = 16

// stripedCounter is a counter that goroutines on several cores can add to
// without contending for one cache line: each add goes to the cell that a
// caller-supplied hint selects, and load sums the cells. The fresh-read
// path counts every read, so a single atomic counter there would make
// reads on two cores slower than reads on one.
type stripedCounter struct {
	cells [counterStripes]struct {
		n atomic.Uint64
		_ [56]byte // pads the cell to a 64-byte cache line
	}
}

// addAt adds one to the cell chosen by hint. The read path passes the
// clock reading it already has: its low bits differ between two reads on
// two cores, at no cost. A clock with a coarse resolution makes the cells
// collide more, which costs speed but never counts.
func (c *stripedCounter) addAt(hint int64) {
	h := uint64(hint)
	c.cells[(h^h>>7)&(counterStripes-1)].n.Add(1)
}

// add adds one to a cell, for counters off the read path.
func (c *stripedCounter) add() { c.addAt(0) }

func (c *stripedCounter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}
