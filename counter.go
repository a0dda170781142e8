package swrtoken

import (
	"math/rand/v2"
	"sync/atomic"
)

// counterStripes is the number of cells of a stripedCounter, a power of
// two. With more cells than cores, two cores rarely add to the same cell.
const counterStripes = 16

// stripedCounter is a counter that goroutines on several cores can add to
// without contending for one cache line: each add goes to a random cell,
// and load sums the cells. The fresh-read path counts every read, so a
// single atomic counter there would make reads on two cores slower than
// reads on one.
type stripedCounter struct {
	cells [counterStripes]struct {
		n atomic.Uint64
		_ [56]byte // pads the cell to a 64-byte cache line
	}
}

func (c *stripedCounter) add() {
	c.cells[rand.Uint32()&(counterStripes-1)].n.Add(1)
}

func (c *stripedCounter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}
