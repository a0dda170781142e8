package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	sum, err := run(ctx, &out)
	if err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	if sum.requests < 20 {
		t.Errorf("requests = %d, want at least 20", sum.requests)
	}
	for session, tokens := range sum.tokensBySession {
		// 8 s of 4 s tokens renewed ahead of time: at least 3 tokens.
		if len(tokens) < 3 {
			t.Errorf("%s used %d tokens, want at least 3", session, len(tokens))
		}
	}
	if len(sum.tokensBySession) != sessionsInDemo {
		t.Errorf("sessions = %d, want %d", len(sum.tokensBySession), sessionsInDemo)
	}
	if sum.stats.BackgroundFetches == 0 {
		t.Errorf("background fetches = 0, want renewals ahead of time")
	}
}
