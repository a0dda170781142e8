package swrtoken

import "sync/atomic"

// stripedCounter is a counter for statistics.
type stripedCounter struct {
	n atomic.Uint64
}

func (c *stripedCounter) add() { c.n.Add(1) }

func (c *stripedCounter) load() uint64 { return c.n.Load() }
