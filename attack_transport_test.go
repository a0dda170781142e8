package swrtoken

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenRecorder is a handler that records the bearer token of each
// request by path.
type tokenRecorder struct {
	mu     sync.Mutex
	tokens map[string][]string
}

func (s *tokenRecorder) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = make(map[string][]string)
	}
	s.tokens[r.URL.Path] = append(s.tokens[r.URL.Path], bearer(r))
}

func (s *tokenRecorder) seen(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens[path]...)
}

// A redirect chain that leaves the API host and comes back must not
// carry the token on the way back: the other host chose that request's
// method and path. sameOrigin documents that every redirect must keep
// the host, and net/http stopped restoring a dropped Authorization
// header in this case for the same reason (CVE-2024-45336).
func TestAttackTransportRedirectBackToOrigin(t *testing.T) {
	var api, other tokenRecorder
	var apiURL string
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.record(r)
		http.Redirect(w, r, apiURL+"/admin/delete-everything", http.StatusFound)
	}))
	defer otherSrv.Close()
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.record(r)
		if r.URL.Path == "/start" {
			http.Redirect(w, r, otherSrv.URL+"/bounce", http.StatusFound)
		}
	}))
	defer apiSrv.Close()
	apiURL = apiSrv.URL

	cache := newTestCache(t, &sequenceFetcher{lifetime: time.Hour}, Options{})
	client := &http.Client{Transport: &Transport{Cache: cache, Key: "api"}}
	resp, err := client.Get(apiSrv.URL + "/start")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()

	if got := api.seen("/start"); len(got) != 1 || got[0] != "token-1" {
		t.Errorf("tokens at /start = %q, want [token-1]", got)
	}
	if got := other.seen("/bounce"); len(got) != 1 || got[0] != "" {
		t.Errorf("tokens at the other host = %q, want one request without a token", got)
	}
	if got := api.seen("/admin/delete-everything"); len(got) != 1 || got[0] != "" {
		t.Errorf("tokens after the bounce back = %q, want one request without a token", got)
	}
}

// closeSignalBody is a request body whose closed channel is closed by
// its first Close.
type closeSignalBody struct {
	r      io.Reader
	once   sync.Once
	closed chan struct{}
}

func (b *closeSignalBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *closeSignalBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// A server that rejects every token gets exactly two requests per call,
// the retry carries the same bytes, and nothing loops. The caller's
// request is left as it was.
func TestAttackTransportAlways401(t *testing.T) {
	var requests atomic.Int32
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()

	fetcher := &sequenceFetcher{lifetime: time.Hour}
	client := &http.Client{Transport: &Transport{Cache: newTestCache(t, fetcher, Options{}), Key: "api"}}
	for call := 1; call <= 3; call++ {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/items?x=1", strings.NewReader("hello world"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "api.internal.test"
		req.Header.Set("X-Trace", "abc")
		wantHeader := req.Header.Clone()
		wantURL := req.URL.String()

		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("call %d: status = %d, want 401", call, resp.StatusCode)
		}
		if got := requests.Load(); got != int32(2*call) {
			t.Errorf("call %d: upstream requests = %d, want %d", call, got, 2*call)
		}
		if len(req.Header) != len(wantHeader) || req.Header.Get("X-Trace") != "abc" ||
			req.Header.Get("Authorization") != "" {
			t.Errorf("call %d: caller's header = %v, want %v", call, req.Header, wantHeader)
		}
		if req.URL.String() != wantURL || req.Host != "api.internal.test" {
			t.Errorf("call %d: caller's URL or Host changed", call)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, b := range bodies {
		if b != "hello world" {
			t.Errorf("upstream body %d = %q, want %q", i, b, "hello world")
		}
	}
	// One fetch per call plus the first: each call drops the token it
	// sent first. The second rejected token of a call stays cached.
	if got := fetcher.calls.Load(); got != 4 {
		t.Errorf("fetches = %d, want 4", got)
	}
}

// GetBody that fails means the request cannot be sent again: the caller
// gets the 401 and the body is closed.
func TestAttackTransportGetBodyFails(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()

	body := &closeSignalBody{r: strings.NewReader("payload"), closed: make(chan struct{})}
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len("payload"))
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("body gone") }

	tr := &Transport{Cache: newTestCache(t, &sequenceFetcher{lifetime: time.Hour}, Options{}), Key: "api"}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.StatusCode)
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("upstream requests = %d, want 1", got)
	}
	// The RoundTripper contract lets http.Transport close the body on
	// its own goroutine after RoundTrip returns, so this waits for it,
	// with a bound that only a missing Close reaches.
	select {
	case <-body.closed:
	case <-time.After(5 * time.Second):
		t.Error("request body still open 5s after RoundTrip returned, want closed")
	}
}

// failingReader is a body whose Read fails after some bytes.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "part"), nil
	}
	return 0, errors.New("disk on fire")
}

// A body whose read fails makes RoundTrip fail. The server never
// receives a complete request, and nothing is retried.
func TestAttackTransportBodyReadFails(t *testing.T) {
	var complete atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			complete.Add(1)
		}
	}))
	defer srv.Close()

	fetcher := &sequenceFetcher{lifetime: time.Hour}
	client := &http.Client{Transport: &Transport{Cache: newTestCache(t, fetcher, Options{}), Key: "api"}}
	req, err := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(&failingReader{}))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 100
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("Do: error = nil, want the body's read error")
	}
	if got := complete.Load(); got != 0 {
		t.Errorf("complete requests at the server = %d, want 0", got)
	}
	if got := fetcher.calls.Load(); got != 1 {
		t.Errorf("fetches = %d, want 1", got)
	}
}
