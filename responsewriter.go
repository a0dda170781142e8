package swrtoken

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// headerWriter is an http.ResponseWriter that calls a function on the
// response header once, just before the header can no longer change:
// before the first final WriteHeader, Write, Flush, ReadFrom or Hijack.
// The middleware uses it to decide on a renewed cookie as late as
// possible. Like the writer it wraps, it is not safe for concurrent use.
//
// wrapWriter gives it exactly the optional interfaces of the wrapped
// writer among http.Flusher, http.Hijacker and io.ReaderFrom, so that
// type assertions report the same abilities. It always has FlushError
// and Unwrap, which http.ResponseController uses: its Flush goes through
// FlushError, and its other methods reach the wrapped writer.
type headerWriter struct {
	http.ResponseWriter
	before func(http.Header)
	done   bool // before was called
}

// prepare calls before on the header unless it was called already.
func (w *headerWriter) prepare() {
	if !w.done {
		w.done = true
		w.before(w.ResponseWriter.Header())
	}
}

// WriteHeader prepares the header unless code is an informational status
// other than 101, because the header of a 1xx response is sent while the
// handler can still change it for the final response.
func (w *headerWriter) WriteHeader(code int) {
	if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
		w.prepare()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.prepare()
	return w.ResponseWriter.Write(b)
}

// FlushError prepares the header and flushes the wrapped writer. It
// returns an error wrapping http.ErrNotSupported when the wrapped writer
// cannot flush.
func (w *headerWriter) FlushError() error {
	w.prepare()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer.
func (w *headerWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

type flusher struct{ *headerWriter }

func (w flusher) Flush() {
	w.prepare()
	w.ResponseWriter.(http.Flusher).Flush()
}

type hijacker struct{ *headerWriter }

func (w hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.prepare()
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

type readerFrom struct{ *headerWriter }

func (w readerFrom) ReadFrom(r io.Reader) (int64, error) {
	w.prepare()
	return w.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
}

// wrapWriter returns w wrapped in a headerWriter that calls before, as
// an http.ResponseWriter with the optional interfaces of w, and the
// headerWriter itself.
//
// NOTE: http.Pusher is not kept, so a handler cannot use HTTP/2 server
// push while a cookie renewal wraps its writer.
func wrapWriter(w http.ResponseWriter, before func(http.Header)) (http.ResponseWriter, *headerWriter) {
	hw := &headerWriter{ResponseWriter: w, before: before}
	_, canFlush := w.(http.Flusher)
	_, canHijack := w.(http.Hijacker)
	_, canReadFrom := w.(io.ReaderFrom)
	f, h, rf := flusher{hw}, hijacker{hw}, readerFrom{hw}

	switch {
	case canFlush && canHijack && canReadFrom:
		return struct {
			*headerWriter
			flusher
			hijacker
			readerFrom
		}{hw, f, h, rf}, hw
	case canFlush && canHijack:
		return struct {
			*headerWriter
			flusher
			hijacker
		}{hw, f, h}, hw
	case canFlush && canReadFrom:
		return struct {
			*headerWriter
			flusher
			readerFrom
		}{hw, f, rf}, hw
	case canHijack && canReadFrom:
		return struct {
			*headerWriter
			hijacker
			readerFrom
		}{hw, h, rf}, hw
	case canFlush:
		return struct {
			*headerWriter
			flusher
		}{hw, f}, hw
	case canHijack:
		return struct {
			*headerWriter
			hijacker
		}{hw, h}, hw
	case canReadFrom:
		return struct {
			*headerWriter
			readerFrom
		}{hw, rf}, hw
	}
	return hw, hw
}
