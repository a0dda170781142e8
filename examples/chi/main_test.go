package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/swrtoken/swrtoken/examples/internal/demo"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if missing := demo.MissingLines(out.String()); len(missing) > 0 {
		t.Errorf("output lacks %q; output:\n%s", missing, out.String())
	}
}
