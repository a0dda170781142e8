package swrtoken

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// maxDrain is how much of a 401 response body Transport reads before it
// closes the body and retries, so that the connection can be reused.
const maxDrain = 64 << 10

// Transport is an http.RoundTripper that adds a token from a Cache to each
// request, in an "Authorization: Bearer <token>" header by default.
//
// It sends a stale token at once; the cache refreshes it in the
// background. When the server responds 401 Unauthorized, Transport drops
// exactly the token it sent from the cache and gets a new one. It sends
// the request again, once, if the body can be sent again. That is the
// case when the request has no body or has GetBody, as requests made
// with http.NewRequest from a bytes.Buffer, bytes.Reader or
// strings.Reader do. Otherwise it returns
// the 401 after the cache has fetched the new token, so the caller's own
// retry uses it.
//
// NOTE: a server that rejects every token, because of a wrong audience
// for example, costs one fetch per request: each 401 drops the token it
// rejected, and a key without a usable token is fetched at once.
//
// When an http.Client follows a redirect, Transport sends the token only
// if the redirect stays on the host and port of the first request, without
// going from https to http.
//
// Transport never modifies the caller's request. It is safe for concurrent
// use if its fields are not changed after first use.
type Transport struct {
	// Cache supplies the tokens. It must not be nil.
	Cache *Cache

	// Key is the cache key of the token to send when KeyFunc is nil and
	// the request's context carries no key (see WithKey).
	Key string

	// KeyFunc, if not nil, returns the cache key for a request, in place
	// of WithKey and Key. An error fails the request with that error.
	KeyFunc func(*http.Request) (string, error)

	// Base sends the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper

	// Header is the request header that carries the token. Empty means
	// "Authorization".
	Header string

	// Scheme is written before the token in the header, with a space
	// between. Empty means "Bearer" for the Authorization header, and no
	// scheme (the token alone) for any other header.
	Scheme string

	// DisableRetry turns off the retry after a 401 response. The token
	// that was rejected is still dropped from the cache.
	DisableRetry bool
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Cache == nil {
		closeBody(req)
		return nil, errors.New("swrtoken: Transport has no Cache")
	}
	if !sameOrigin(req) {
		return t.base().RoundTrip(req)
	}
	key, err := t.key(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	token, err := t.Cache.Token(req.Context(), key)
	if err != nil {
		closeBody(req)
		return nil, err
	}

	resp, err := t.base().RoundTrip(t.authorize(req, token, req.Body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	t.Cache.Invalidate(key, token)
	if t.DisableRetry {
		return resp, nil
	}
	return t.retry(req, key, token, resp)
}

// retry sends req again with a new token after resp, a 401 for the token
// rejected. It returns resp when the request cannot be sent again.
func (t *Transport) retry(req *http.Request, key, rejected string, resp *http.Response) (*http.Response, error) {
	body, replayable := rewindBody(req)
	token, err := t.Cache.Token(req.Context(), key)
	if !replayable || err != nil || token == rejected {
		if body != nil {
			body.Close()
		}
		return resp, nil
	}
	io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
	return t.base().RoundTrip(t.authorize(req, token, body))
}

// authorize returns a shallow copy of req with its own header map that
// carries token, and body as its body.
func (t *Transport) authorize(req *http.Request, token string, body io.ReadCloser) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header, 1)
	}
	r.Body = body
	header, scheme := t.header()
	if scheme != "" {
		token = scheme + " " + token
	}
	r.Header.Set(header, token)
	return r
}

func (t *Transport) header() (name, scheme string) {
	name = t.Header
	if name == "" {
		name = "Authorization"
	}
	scheme = t.Scheme
	if scheme == "" && http.CanonicalHeaderKey(name) == "Authorization" {
		scheme = "Bearer"
	}
	return name, scheme
}

func (t *Transport) key(req *http.Request) (string, error) {
	if t.KeyFunc != nil {
		key, err := t.KeyFunc(req)
		if err != nil {
			return "", fmt.Errorf("swrtoken: cache key for %s %s: %w", req.Method, req.URL.Redacted(), err)
		}
		return key, nil
	}
	if key, ok := KeyFromContext(req.Context()); ok {
		return key, nil
	}
	return t.Key, nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// rewindBody returns a new copy of req's body for a second attempt, and
// whether there is one. A request without a body can always be sent again.
func rewindBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return body, true
}

// sameOrigin reports whether req may carry the token: it is not the
// result of a redirect, or every hop of the redirect chain kept the host,
// the port and a secure scheme of the first request. Checking each hop,
// and not only the last, keeps a host that the chain passed through from
// redirecting back with a path of its choice.
func sameOrigin(req *http.Request) bool {
	var hops []*http.Request
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		hops = append(hops, r)
	}
	if len(hops) == 0 {
		return true
	}
	first := hops[len(hops)-1].Response.Request
	origin := hostPort(first)
	for _, hop := range hops {
		if first.URL.Scheme == "https" && hop.URL.Scheme != "https" {
			return false
		}
		if hostPort(hop) != origin {
			return false
		}
	}
	return true
}

// hostPort returns the lower-case host and port that req is sent to, with
// the scheme's default port filled in.
func hostPort(req *http.Request) string {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
