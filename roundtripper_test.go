package swrtoken

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sequenceFetcher returns opaque tokens "token-1", "token-2", ... with the
// given lifetime, and counts its calls.
type sequenceFetcher struct {
	lifetime time.Duration
	delay    time.Duration
	calls    atomic.Int64
}

func (f *sequenceFetcher) Fetch(ctx context.Context, key string) (Token, error) {
	n := f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	return Token{Value: "token-" + strconv.FormatInt(n, 10), Lifetime: f.lifetime}, nil
}

func newTestCache(t *testing.T, f Fetcher, opts Options) *Cache {
	t.Helper()
	c := NewCache(f, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func TestTransportLeavesRequestUnchanged(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, bearer(r)+" "+r.Header.Get("X-Trace")+" "+r.URL.RequestURI())
		mu.Unlock()
	}))
	defer srv.Close()

	// Every host resolves to the test server, whose certificate is
	// valid for example.com.
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	base.TLSClientConfig = base.TLSClientConfig.Clone()
	base.TLSClientConfig.ServerName = "example.com"

	fetcher := &sequenceFetcher{lifetime: time.Hour}
	client := &http.Client{Transport: &Transport{
		Cache: newTestCache(t, fetcher, Options{}),
		Key:   "api",
		Base:  base,
	}}

	req, err := http.NewRequest(http.MethodGet, "https://api.example.test/v1/items?x=1", nil)
	require.NoError(t, err)
	req.Header.Set("X-Trace", "abc")
	wantHeader := req.Header.Clone()

	for range 2 {
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, wantHeader, req.Header, "caller's header after the call")
		assert.Equal(t, "https://api.example.test/v1/items?x=1", req.URL.String())
		assert.Empty(t, req.Header.Get("Authorization"))
	}
	assert.Equal(t, []string{"token-1 abc /v1/items?x=1", "token-1 abc /v1/items?x=1"}, seen)
	assert.Equal(t, int64(1), fetcher.calls.Load(), "fetches")
}

// rejectingServer responds 401 to every token in rejected and 200 to the
// others, and records each request's token and body.
type rejectingServer struct {
	rejected map[string]bool

	mu       sync.Mutex
	tokens   []string
	bodies   []string
	mismatch int // requests whose body length differs from ContentLength
}

func (s *rejectingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.tokens = append(s.tokens, bearer(r))
	s.bodies = append(s.bodies, string(body))
	if r.ContentLength >= 0 && int64(len(body)) != r.ContentLength {
		s.mismatch++
	}
	s.mu.Unlock()
	if s.rejected[bearer(r)] {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "token rejected", http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "ok")
}

func TestTransportRetryAfter401(t *testing.T) {
	tests := []struct {
		name       string
		body       func() io.Reader
		wantStatus int
		wantTokens []string
		wantBodies []string
	}{
		{
			name:       "no body",
			body:       func() io.Reader { return nil },
			wantStatus: http.StatusOK,
			wantTokens: []string{"token-1", "token-2"},
			wantBodies: []string{"", ""},
		},
		{
			name:       "replayable body",
			body:       func() io.Reader { return bytes.NewReader([]byte("hello world")) },
			wantStatus: http.StatusOK,
			wantTokens: []string{"token-1", "token-2"},
			wantBodies: []string{"hello world", "hello world"},
		},
		{
			name:       "body without GetBody",
			body:       func() io.Reader { return io.NopCloser(strings.NewReader("hello world")) },
			wantStatus: http.StatusUnauthorized,
			wantTokens: []string{"token-1"},
			wantBodies: []string{"hello world"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := &rejectingServer{rejected: map[string]bool{"token-1": true}}
			srv := httptest.NewServer(upstream)
			defer srv.Close()
			cache := newTestCache(t, &sequenceFetcher{lifetime: time.Hour}, Options{})
			client := &http.Client{Transport: &Transport{Cache: cache, Key: "api"}}

			req, err := http.NewRequest(http.MethodPost, srv.URL, tt.body())
			require.NoError(t, err)
			if req.Body != nil {
				req.ContentLength = 11
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()

			assert.Equal(t, tt.wantStatus, resp.StatusCode, "status")
			assert.Equal(t, tt.wantTokens, upstream.tokens, "tokens the server saw")
			assert.Equal(t, tt.wantBodies, upstream.bodies, "bodies the server saw")
			assert.Zero(t, upstream.mismatch, "requests whose body differs from Content-Length")
			entry, state := cache.Lookup("api")
			assert.Equal(t, "token-2", entry.Token.Value, "cached token after the call")
			assert.Equal(t, Fresh, state)
		})
	}
}

func TestTransportCallerRetryUsesNewToken(t *testing.T) {
	upstream := &rejectingServer{rejected: map[string]bool{"token-1": true}}
	srv := httptest.NewServer(upstream)
	defer srv.Close()
	cache := newTestCache(t, &sequenceFetcher{lifetime: time.Hour}, Options{})
	client := &http.Client{Transport: &Transport{Cache: cache, Key: "api"}}

	post := func() int {
		req, err := http.NewRequest(http.MethodPost, srv.URL,
			io.NopCloser(strings.NewReader("hello world")))
		require.NoError(t, err)
		req.ContentLength = 11
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, post(), "first call")
	assert.Equal(t, http.StatusOK, post(), "caller's retry")
	assert.Equal(t, []string{"token-1", "token-2"}, upstream.tokens)
	assert.Zero(t, upstream.mismatch)
}

func TestTransportDisableRetry(t *testing.T) {
	upstream := &rejectingServer{rejected: map[string]bool{"token-1": true}}
	srv := httptest.NewServer(upstream)
	defer srv.Close()
	fetcher := &sequenceFetcher{lifetime: time.Hour}
	cache := newTestCache(t, fetcher, Options{})
	client := &http.Client{Transport: &Transport{Cache: cache, Key: "api", DisableRetry: true}}

	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, state := cache.Lookup("api")
	assert.Equal(t, Unusable, state, "rejected token is dropped")
	assert.Equal(t, int64(1), fetcher.calls.Load(), "fetches")
}

func TestTransportRedirects(t *testing.T) {
	other := &rejectingServer{}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()

	api := &rejectingServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherSrv.URL+"/landing", http.StatusFound)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/landing", http.StatusFound)
	})
	mux.Handle("/landing", api)
	apiSrv := httptest.NewServer(mux)
	defer apiSrv.Close()

	cache := newTestCache(t, &sequenceFetcher{lifetime: time.Hour}, Options{})
	client := &http.Client{Transport: &Transport{Cache: cache, Key: "api"}}

	resp, err := client.Get(apiSrv.URL + "/elsewhere")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{""}, other.tokens, "token seen by the other host")

	resp, err = client.Get(apiSrv.URL + "/moved")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"token-1"}, api.tokens, "token seen after a same-host redirect")
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name  string
		first string
		next  string
		want  bool
	}{
		{"same host", "https://api.test/a", "https://api.test/b", true},
		{"host case", "https://API.test/a", "https://api.test/b", true},
		{"default port spelled out", "https://api.test/a", "https://api.test:443/b", true},
		{"other host", "https://api.test/a", "https://evil.test/b", false},
		{"subdomain", "https://api.test/a", "https://x.api.test/b", false},
		{"other port", "http://127.0.0.1:8080/a", "http://127.0.0.1:8081/b", false},
		{"https to http", "https://api.test/a", "http://api.test/b", false},
		{"http to https", "http://api.test:443/a", "https://api.test/b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := httptest.NewRequest(http.MethodGet, tt.first, nil)
			next := httptest.NewRequest(http.MethodGet, tt.next, nil)
			next.Response = &http.Response{Request: first}
			assert.Equal(t, tt.want, sameOrigin(next))
		})
	}
}

func TestTransportHeaderAndScheme(t *testing.T) {
	tests := []struct {
		name   string
		header string
		scheme string
		want   string // header: value
	}{
		{"default", "", "", "Authorization: Bearer token-1"},
		{"custom scheme", "", "Token", "Authorization: Token token-1"},
		{"custom header", "X-Api-Token", "", "X-Api-Token: token-1"},
		{"custom header and scheme", "X-Api-Token", "Bearer", "X-Api-Token: Bearer token-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				name := tt.header
				if name == "" {
					name = "Authorization"
				}
				got = name + ": " + r.Header.Get(name)
			}))
			defer srv.Close()
			cache := newTestCache(t, &sequenceFetcher{lifetime: time.Hour}, Options{})
			client := &http.Client{Transport: &Transport{
				Cache: cache, Key: "api", Header: tt.header, Scheme: tt.scheme,
			}}
			resp, err := client.Get(srv.URL)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTransportKeySources(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	fetcher := FetcherFunc(func(_ context.Context, key string) (Token, error) {
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
		return Token{Value: "token-for-" + key, Lifetime: time.Hour}, nil
	})
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, bearer(r))
	}))
	defer srv.Close()
	cache := newTestCache(t, fetcher, Options{})

	fixed := &http.Client{Transport: &Transport{Cache: cache, Key: "fixed"}}
	byHeader := &http.Client{Transport: &Transport{Cache: cache, KeyFunc: func(r *http.Request) (string, error) {
		return r.Header.Get("X-Session"), nil
	}}}

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	for _, do := range []func() (*http.Response, error){
		func() (*http.Response, error) { return fixed.Do(req) },
		func() (*http.Response, error) {
			return fixed.Do(req.WithContext(WithKey(req.Context(), "from-context")))
		},
		func() (*http.Response, error) {
			r := req.Clone(req.Context())
			r.Header.Set("X-Session", "from-header")
			return byHeader.Do(r)
		},
	} {
		resp, err := do()
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, []string{"token-for-fixed", "token-for-from-context", "token-for-from-header"}, got)
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeRecorder) Close() error {
	b.closed.Store(true)
	return nil
}

func TestTransportClosesBodyOnEarlyError(t *testing.T) {
	failing := FetcherFunc(func(context.Context, string) (Token, error) {
		return Token{}, errors.New("issuer unavailable")
	})
	tests := []struct {
		name      string
		transport *Transport
		wantErr   string
	}{
		{"no cache", &Transport{}, "Transport has no Cache"},
		{"key error", &Transport{
			Cache:   newTestCache(t, failing, Options{}),
			KeyFunc: func(*http.Request) (string, error) { return "", errors.New("no session") },
		}, "no session"},
		{"fetch error", &Transport{Cache: newTestCache(t, failing, Options{}), Key: "api"}, "issuer unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &closeRecorder{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/never", body)
			resp, err := tt.transport.RoundTrip(req)
			assert.Nil(t, resp)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, body.closed.Load(), "request body closed")
		})
	}
}

// handlerTransport sends requests to an http.Handler in-process, so that
// tests inside a synctest bubble need no network.
type handlerTransport struct{ handler http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.handler.ServeHTTP(rec, req)
	if req.Body != nil {
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func TestTransportExpiredTokenHerd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fetcher := &sequenceFetcher{lifetime: 60 * time.Second, delay: 300 * time.Millisecond}
		cache := NewCache(fetcher, Options{})
		defer cache.Close()
		var mu sync.Mutex
		seen := map[string]int{}
		upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[bearer(r)]++
			mu.Unlock()
		})
		client := &http.Client{Transport: &Transport{
			Cache: cache, Key: "api", Base: handlerTransport{upstream},
		}}
		get := func() error {
			resp, err := client.Get("http://api.test/items")
			if err != nil {
				return err
			}
			return resp.Body.Close()
		}
		require.NoError(t, get())
		time.Sleep(60 * time.Second) // token-1 has expired

		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() { errs <- get() })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
		assert.Equal(t, int64(2), fetcher.calls.Load(), "fetches: the first token and one for the herd")
		assert.Equal(t, map[string]int{"token-1": 1, "token-2": 50}, seen)
	})
}

func TestTransportConcurrentUse(t *testing.T) {
	upstream := &rejectingServer{rejected: map[string]bool{"token-1": true}}
	srv := httptest.NewServer(upstream)
	defer srv.Close()
	fetcher := &sequenceFetcher{lifetime: time.Hour}
	cache := newTestCache(t, fetcher, Options{})
	client := &http.Client{Transport: &Transport{Cache: cache, Key: "api"}}

	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 20 {
		wg.Go(func() {
			for range 10 {
				resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("hello world"))
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "failed requests")
	assert.Equal(t, int64(2), fetcher.calls.Load(), "fetches: the rejected token and its replacement")
	assert.Zero(t, upstream.mismatch)
}
