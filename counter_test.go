package swrtoken

import (
	"sync"
	"testing"
)

func TestStripedCounterSumsCells(t *testing.T) {
	var c stripedCounter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.add()
			}
		})
	}
	wg.Wait()
	if got, want := c.load(), uint64(8000); got != want {
		t.Errorf("load() = %d, want %d", got, want)
	}
}

func TestGoroutineCellInRange(t *testing.T) {
	var wg sync.WaitGroup
	cells := make(chan uint64, 64)
	for range 64 {
		wg.Go(func() { cells <- goroutineCell() })
	}
	wg.Wait()
	close(cells)
	for cell := range cells {
		if cell >= counterStripes {
			t.Fatalf("goroutineCell() = %d, want below %d", cell, counterStripes)
		}
	}
}
