package swrtokentest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

const jwksPath = "/.well-known/jwks.json"

// tokenResponse is the body of a successful token request.
type tokenResponse struct {
	Object string `json:"object"`
	JWT    string `json:"jwt"`
}

// apiError is one error of a Clerk error body.
type apiError struct {
	Message     string `json:"message"`
	LongMessage string `json:"long_message"`
	Code        string `json:"code"`
}

// errorResponse is a Clerk error body.
type errorResponse struct {
	Errors []apiError `json:"errors"`
}

// newHandler returns the mux that serves the issuer's routes.
func (i *Issuer) newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+jwksPath, i.serveJWKS)
	mux.HandleFunc("POST /v1/sessions/{session_id}/tokens", i.serveToken)
	mux.HandleFunc("POST /v1/sessions/{session_id}/tokens/{template}", i.serveToken)
	return mux
}

// serveJWKS writes the public keys of the issuer, oldest first.
func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksRequests.Add(1)
	i.mu.Lock()
	set := jwkSet{Keys: []jwk{}}
	for _, k := range i.keys {
		if k.published {
			set.Keys = append(set.Keys, k.publicJWK(i.opts.OmitJWKAlg))
		}
	}
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// serveToken responds to a request for a session token. It chooses an
// injected failure when the request arrives. After the latency, it checks
// that failure first, then the bearer secret, then a revoked session.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	i.tokenRequests.Add(1)
	i.mu.Lock()
	status := i.injectedStatus(i.opts.Now())
	latency := i.latency
	i.mu.Unlock()

	if err := i.wait(r.Context(), latency); err != nil {
		if errors.Is(err, errIssuerClosed) {
			writeError(w, http.StatusServiceUnavailable, "issuer closed")
		}
		// Otherwise the client gave up, so no response is read.
		return
	}
	if status != 0 {
		writeError(w, status, "injected failure")
		return
	}
	if !i.authorized(r) {
		writeError(w, http.StatusUnauthorized,
			`missing or invalid secret key in the "Authorization: Bearer" header`)
		return
	}

	sessionID := r.PathValue("session_id")
	i.mu.Lock()
	revoked := i.revoked[sessionID]
	i.mu.Unlock()
	if revoked {
		writeError(w, http.StatusNotFound, "session not found")
		return
	}

	c := MintOptions{SessionID: sessionID}
	if template := r.PathValue("template"); template != "" {
		c.Extra = map[string]any{"tpl": template}
	}
	writeJSON(w, http.StatusOK, tokenResponse{Object: "token", JWT: i.MintWith(c)})
}

// authorized reports whether r carries the issuer's secret as a bearer
// token. The scheme is case-insensitive, as RFC 7235, section 2.1
// requires.
func (i *Issuer) authorized(r *http.Request) bool {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(i.SecretKey)) == 1
}

var errIssuerClosed = errors.New("swrtokentest: issuer closed")

// wait waits for d, and returns early with an error when ctx is done or
// the issuer is closed. It uses a timer rather than a goroutine, so that
// under testing/synctest it is durably blocked and fake time advances.
func (i *Issuer) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(i.closeCtx, func() { cancel(errIssuerClosed) })
	defer stop()

	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// writeError writes a Clerk error body with the given status. The code is
// the one Clerk uses for 401 and 404, and otherwise the status text in
// snake case, such as "service_unavailable".
func writeError(w http.ResponseWriter, status int, detail string) {
	code := strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	switch status {
	case http.StatusUnauthorized:
		code = "authentication_invalid"
	case http.StatusNotFound:
		code = "resource_not_found"
	}
	if code == "" {
		code = "error"
	}
	writeJSON(w, status, errorResponse{Errors: []apiError{{
		Message:     http.StatusText(status),
		LongMessage: detail,
		Code:        code,
	}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// The values written here are plain structs of strings.
		panic("swrtokentest: encode response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// inProcessTransport serves requests for UnstartedURL by calling the
// issuer's handler on the caller's goroutine.
type inProcessTransport struct {
	issuer *Issuer
}

// RoundTrip implements http.RoundTripper. Like a network transport, it
// returns the context's error when the request's context ends before the
// handler responds, and it closes the request body.
func (t inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if origin := req.URL.Scheme + "://" + req.URL.Host; origin != UnstartedURL {
		return nil, errors.New("swrtokentest: the client of an unstarted issuer reaches only " +
			UnstartedURL + ", not " + origin)
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.issuer.mu.Lock()
	closed := t.issuer.closed
	t.issuer.mu.Unlock()
	if closed {
		return nil, errIssuerClosed
	}

	// The handler gets a server-side request, with the fields that
	// httptest.NewRequest sets.
	in := req.Clone(ctx)
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "192.0.2.1:1234"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.issuer.handler.ServeHTTP(rec, in)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
