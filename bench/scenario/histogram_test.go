package scenario

import (
	"testing"
	"time"
)

func TestBucketBoundsContainValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1e6, 1e9, 1e12, 1 << 62} {
		i := bucketOf(v)
		if upper := bucketUpper(i); upper < v {
			t.Errorf("bucketUpper(bucketOf(%d)) = %d, want at least %d", v, upper, v)
		}
		if i > 0 && bucketUpper(i-1) >= v {
			t.Errorf("bucketUpper(%d) = %d, want below %d: the previous bucket holds it",
				i-1, bucketUpper(i-1), v)
		}
		if upper := bucketUpper(i); v >= linearLimit && float64(upper-v) > float64(v)/subBuckets {
			t.Errorf("bucket of %d ends at %d, want within 1/%d of the value", v, upper, subBuckets)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p50", 0.5, 500 * time.Microsecond},
		{"p99", 0.99, 990 * time.Microsecond},
		{"p99.9", 0.999, 999 * time.Microsecond},
		{"max", 1, time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := h.Quantile(tc.q)
			if got < tc.want || float64(got-tc.want) > float64(tc.want)/subBuckets {
				t.Errorf("Quantile(%v) = %v, want %v within 1/%d", tc.q, got, tc.want, subBuckets)
			}
		})
	}
	if got := h.Max(); got != time.Millisecond {
		t.Errorf("Max = %v, want 1ms", got)
	}
	if got := h.Count(); got != 1000 {
		t.Errorf("Count = %d, want 1000", got)
	}
	if got := h.CountAbove(900 * time.Microsecond); got < 95 || got > 105 {
		t.Errorf("CountAbove(900µs) = %d, want about 100", got)
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var empty Histogram
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("Quantile of empty histogram = %v, want 0", got)
	}
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(time.Second)
	b.Record(-time.Second)
	a.Merge(&b)
	if got := a.Count(); got != 3 {
		t.Errorf("Count after Merge = %d, want 3", got)
	}
	if got := a.Max(); got != time.Second {
		t.Errorf("Max after Merge = %v, want 1s", got)
	}
	if got := a.Quantile(0.01); got != 0 {
		t.Errorf("lowest quantile = %v, want 0 for the negative duration", got)
	}
}
