package swrtoken

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// plainWriter is a ResponseWriter with no optional interface.
type plainWriter struct{ rec *httptest.ResponseRecorder }

func (w plainWriter) Header() http.Header         { return w.rec.Header() }
func (w plainWriter) Write(b []byte) (int, error) { return w.rec.Write(b) }
func (w plainWriter) WriteHeader(code int)        { w.rec.WriteHeader(code) }

type flushingWriter struct {
	plainWriter
	flushes *int
}

func (w flushingWriter) Flush() { *w.flushes++ }

type hijackingWriter struct{ plainWriter }

func (w hijackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("test writer cannot hijack")
}

type readingWriter struct{ plainWriter }

func (w readingWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(w.rec, r) }

type fullWriter struct {
	flushingWriter
	hijackingWriter
	readingWriter
}

// Header, Write and WriteHeader of the embedded plainWriters are
// ambiguous, so fullWriter picks one.
func (w fullWriter) Header() http.Header         { return w.flushingWriter.Header() }
func (w fullWriter) Write(b []byte) (int, error) { return w.flushingWriter.Write(b) }
func (w fullWriter) WriteHeader(code int)        { w.flushingWriter.WriteHeader(code) }

type deadlineWriter struct {
	plainWriter
	deadline *time.Time
}

func (w deadlineWriter) SetWriteDeadline(t time.Time) error {
	*w.deadline = t
	return nil
}

func TestWrapWriterKeepsOptionalInterfaces(t *testing.T) {
	rec := httptest.NewRecorder()
	p := plainWriter{rec}
	var n int
	f := flushingWriter{p, &n}
	h := hijackingWriter{p}
	rf := readingWriter{p}
	tests := []struct {
		name string
		w    http.ResponseWriter
	}{
		{"plain", p},
		{"flusher", f},
		{"hijacker", h},
		{"readerFrom", rf},
		{"flusher and hijacker", struct {
			flushingWriter
			http.Hijacker
		}{f, h}},
		{"flusher and readerFrom", struct {
			flushingWriter
			io.ReaderFrom
		}{f, rf}},
		{"hijacker and readerFrom", struct {
			hijackingWriter
			io.ReaderFrom
		}{h, rf}},
		{"all three", fullWriter{f, h, rf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := wrapWriter(tt.w, func(http.Header) {})
			_, wantFlush := tt.w.(http.Flusher)
			_, wantHijack := tt.w.(http.Hijacker)
			_, wantReadFrom := tt.w.(io.ReaderFrom)
			if _, ok := got.(http.Flusher); ok != wantFlush {
				t.Errorf("wrapped writer is http.Flusher: %v, want %v", ok, wantFlush)
			}
			if _, ok := got.(http.Hijacker); ok != wantHijack {
				t.Errorf("wrapped writer is http.Hijacker: %v, want %v", ok, wantHijack)
			}
			if _, ok := got.(io.ReaderFrom); ok != wantReadFrom {
				t.Errorf("wrapped writer is io.ReaderFrom: %v, want %v", ok, wantReadFrom)
			}
			u, ok := got.(interface{ Unwrap() http.ResponseWriter })
			if !ok {
				t.Fatal("wrapped writer has no Unwrap method")
			}
			if u.Unwrap() != tt.w {
				t.Errorf("Unwrap() = %v, want the wrapped writer", u.Unwrap())
			}
		})
	}
}

func TestWrapWriterPreparesHeaderOnce(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter)
		code    int
	}{
		{"WriteHeader then Write", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("body"))
		}, http.StatusOK},
		{"WriteHeader twice", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusOK)
		}, http.StatusAccepted},
		{"Write only", func(w http.ResponseWriter) {
			w.Write([]byte("a"))
			w.Write([]byte("b"))
		}, http.StatusOK},
		{"Flush", func(w http.ResponseWriter) {
			w.(http.Flusher).Flush()
			w.Write([]byte("a"))
		}, http.StatusOK},
		{"ResponseController Flush", func(w http.ResponseWriter) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}, http.StatusOK},
		{"ReadFrom", func(w http.ResponseWriter) {
			w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			inner := fullWriter{flushingWriter: flushingWriter{plainWriter{rec}, new(int)}}
			inner.readingWriter = readingWriter{plainWriter{rec}}
			calls := 0
			w, hw := wrapWriter(inner, func(h http.Header) {
				calls++
				h.Add("X-Prepared", "yes")
			})
			tt.handler(w)
			hw.prepare()

			if calls != 1 {
				t.Errorf("before called %d times, want 1", calls)
			}
			if got := rec.Result().Header.Values("X-Prepared"); len(got) != 1 {
				t.Errorf("X-Prepared in the response header = %q, want one value", got)
			}
			if rec.Code != tt.code {
				t.Errorf("status = %d, want %d", rec.Code, tt.code)
			}
		})
	}
}

func TestWrapWriterInformationalHeaderWithoutCookie(t *testing.T) {
	rec := httptest.NewRecorder()
	var seen []bool
	inner := plainWriter{rec}
	w, _ := wrapWriter(inner, func(h http.Header) { h.Set("X-Prepared", "yes") })
	w.WriteHeader(http.StatusEarlyHints)
	seen = append(seen, rec.Header().Get("X-Prepared") != "")
	w.WriteHeader(http.StatusOK)
	seen = append(seen, rec.Header().Get("X-Prepared") != "")
	if seen[0] {
		t.Error("header prepared at 103 Early Hints, want it prepared at the final status")
	}
	if !seen[1] {
		t.Error("header not prepared at 200, want it prepared")
	}
}

func TestWrapWriterHijackPrepares(t *testing.T) {
	calls := 0
	w, _ := wrapWriter(hijackingWriter{plainWriter{httptest.NewRecorder()}}, func(http.Header) { calls++ })
	w.(http.Hijacker).Hijack()
	if calls != 1 {
		t.Errorf("before called %d times by Hijack, want 1", calls)
	}
}

func TestWrapWriterResponseControllerReachesInner(t *testing.T) {
	var deadline time.Time
	inner := deadlineWriter{plainWriter{httptest.NewRecorder()}, &deadline}
	w, _ := wrapWriter(inner, func(http.Header) {})
	want := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := http.NewResponseController(w).SetWriteDeadline(want); err != nil {
		t.Fatalf("SetWriteDeadline through the wrapper: %v, want nil", err)
	}
	if !deadline.Equal(want) {
		t.Errorf("inner deadline = %v, want %v", deadline, want)
	}
	err := http.NewResponseController(w).Flush()
	if !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("Flush of a writer that cannot flush = %v, want http.ErrNotSupported", err)
	}
}
