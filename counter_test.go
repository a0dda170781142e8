package swrtoken

import (
	"sync"
	"testing"
)

func TestStripedCounterSumsCells(t *testing.T) {
	var c stripedCounter
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				c.addAt(int64(g*1000 + i*37))
			}
		})
	}
	wg.Wait()
	c.add()
	if got, want := c.load(), uint64(4001); got != want {
		t.Errorf("load() = %d, want %d", got, want)
	}
}
