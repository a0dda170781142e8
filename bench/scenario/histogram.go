package scenario

import (
	"math/bits"
	"time"
)

// Histogram buckets. Durations below 2*subBuckets ns have a bucket each.
// Above that, each power of two is split into subBuckets linear buckets,
// so a bucket is at most 1/subBuckets (about 3%) of its lower bound wide.
const (
	subBucketBits = 5
	subBuckets    = 1 << subBucketBits
	linearLimit   = 2 * subBuckets
	bucketCount   = linearLimit + (64-subBucketBits-1)*subBuckets
)

// Histogram records durations with a relative precision of about 3% and
// their exact maximum, in constant memory. The zero value is empty and
// ready. It is not safe for concurrent use: give each goroutine its own
// and Merge them.
type Histogram struct {
	counts [bucketCount]uint64
	total  uint64
	max    time.Duration
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

// Merge adds the durations recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the longest recorded duration.
func (h *Histogram) Max() time.Duration { return h.max }

// CountAbove returns the number of durations above d, with d rounded up
// to the end of its bucket, by about 3% at most.
func (h *Histogram) CountAbove(d time.Duration) uint64 {
	var n uint64
	for i := bucketOf(uint64(max(d, 0))) + 1; i < bucketCount; i++ {
		n += h.counts[i]
	}
	return n
}

// Quantile returns the upper bound of the bucket that holds the q-th
// quantile (0 < q <= 1), capped at Max, or zero when h is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			return min(time.Duration(bucketUpper(i)), h.max)
		}
	}
	return h.max
}

// bucketOf returns the index of the bucket that holds v.
func bucketOf(v uint64) int {
	if v < linearLimit {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1
	top := v >> shift // in [subBuckets, 2*subBuckets)
	return linearLimit + (shift-1)*subBuckets + int(top-subBuckets)
}

// bucketUpper returns the largest value that falls in bucket i.
func bucketUpper(i int) uint64 {
	if i < linearLimit {
		return uint64(i)
	}
	shift := (i-linearLimit)/subBuckets + 1
	top := uint64((i-linearLimit)%subBuckets + subBuckets)
	return (top+1)<<shift - 1
}
