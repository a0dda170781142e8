package swrtoken

import (
	"sync/atomic"
	"unsafe"
)

// counterStripes is the number of cells of a stripedCounter, a power of
// two. Two goroutines share a cell with a chance of 1 in counterStripes.
const counterStripes = 64

// stripedCounter is a counter that goroutines on several cores can add to
// without contending for one cache line: each goroutine adds to a cell of
// its own, chosen by the address of its stack, and load sums the cells.
// The fresh-read path counts every read. With a single atomic counter, or
// with a cell chosen at random, the cache line of the count moved between
// the cores on most reads. Reads on two cores were then slower than reads
// on one: 45 ns against 36 ns on the machine of BENCHMARKS.md.
type stripedCounter struct {
	cells [counterStripes]struct {
		n atomic.Uint64
		_ [56]byte // pads the cell to a 64-byte cache line
	}
}

func (c *stripedCounter) add() {
	c.cells[goroutineCell()].n.Add(1)
}

func (c *stripedCounter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}

// goroutineCell returns a cell index that stays the same for the calling
// goroutine while its stack does not move, and differs between most
// goroutines: a hash of the address of a local variable. Go offers no
// cheap processor or goroutine id, so the stack address serves as one.
// The address is only hashed, never dereferenced.
func goroutineCell() uint64 {
	var local byte
	addr := uint64(uintptr(unsafe.Pointer(&local)))
	// Fibonacci hashing: the top bits of the product mix every bit of
	// the address, so stacks allocated close together get other cells.
	return (addr >> 10) * 0x9E3779B97F4A7C15 >> (64 - 6) // 6 bits: 64 cells
}
