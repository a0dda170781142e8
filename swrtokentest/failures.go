package swrtokentest

import (
	"fmt"
	"math"
	"time"
)

// fractionTolerance absorbs the rounding of n*fraction in floating
// point, so that 0.29*100 counts as 29 and (1.0/3)*3 as 1.
const fractionTolerance = 1e-9

// failureWindow makes the token endpoint respond with status to the requests
// that arrive in [from, to) on Options.Now.
type failureWindow struct {
	status   int
	from, to time.Time
}

// failureFraction makes the token endpoint respond with status to a
// fraction of its calls. calls counts the calls since it was set.
type failureFraction struct {
	status   int
	fraction float64
	calls    int64
}

// FailFor makes the token endpoint respond with status to the requests
// that arrive during the next d, measured on Options.Now. The response
// has an error body in Clerk's shape. It panics if status is not a 4xx or 5xx
// code.
func (i *Issuer) FailFor(status int, d time.Duration) {
	from := i.opts.Now()
	i.FailBetween(status, from, from.Add(d))
}

// FailBetween makes the token endpoint respond with status to the
// requests that arrive in [from, to) on Options.Now, without the clock offset. When
// windows overlap, the one set last decides the status. It panics if
// status is not a 4xx or 5xx code.
func (i *Issuer) FailBetween(status int, from, to time.Time) {
	checkFailureStatus(status)
	if !from.Before(to) {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.windows = append(i.windows, failureWindow{status: status, from: from, to: to})
}

// FailFraction makes the token endpoint respond with status to a
// fraction of its calls, from now on. The choice is deterministic: counting calls
// from 1 since FailFraction, call n fails when floor(n*fraction) is
// greater than floor((n-1)*fraction). So exactly floor(n*fraction) of the
// first n calls fail: with 0.25, calls 4, 8, 12...; with 0.5, every second
// call; with 1, every call. Zero or less stops these failures. When a
// failure window applies to a call, the window decides its status, and
// the call still counts. It panics if status is not a 4xx or 5xx code.
func (i *Issuer) FailFraction(status int, fraction float64) {
	checkFailureStatus(status)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.fraction = failureFraction{status: status, fraction: min(max(fraction, 0), 1)}
}

// ClearFailures removes every failure that FailFor, FailBetween and
// FailFraction set. Revoked sessions stay revoked.
func (i *Issuer) ClearFailures() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.windows = nil
	i.fraction = failureFraction{}
}

// injectedStatus counts a token request arriving at now, on Options.Now,
// and returns the status of the failure it must get, or 0 for none. The
// caller holds i.mu.
func (i *Issuer) injectedStatus(now time.Time) int {
	status := 0
	if f := &i.fraction; f.fraction > 0 {
		f.calls++
		failed := math.Floor(float64(f.calls)*f.fraction + fractionTolerance)
		before := math.Floor(float64(f.calls-1)*f.fraction + fractionTolerance)
		if failed > before {
			status = f.status
		}
	}
	for n := len(i.windows) - 1; n >= 0; n-- {
		if w := i.windows[n]; !now.Before(w.from) && now.Before(w.to) {
			return w.status
		}
	}
	return status
}

func checkFailureStatus(status int) {
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("swrtokentest: failure status %d is not a 4xx or 5xx code", status))
	}
}
