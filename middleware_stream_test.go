package swrtoken

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// getWithCookie sends a GET for url with the token in the session cookie.
func getWithCookie(t *testing.T, client *http.Client, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: token})
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

func TestRenewalServerSentEvents(t *testing.T) {
	e, refreshed := renewalEnv(t, envOptions{mw: MiddlewareOptions{RenewalWindow: 30 * time.Second}})
	token := e.mintAged("sess_sse", 50*time.Second)
	firstRead := make(chan struct{})
	handlerErr := make(chan error, 1)
	h := e.mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerErr <- streamEvents(w, refreshed, firstRead)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp := getWithCookie(t, srv.Client(), srv.URL, token)
	defer resp.Body.Close()
	// The header arrived with the first flush, the cookie in it.
	entry, _ := e.cache.Lookup("sess_sse")
	checkSessionCookie(t, resp, entry.Token.Value, DefaultLeeway)

	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || first != "data: 1\n" {
		t.Fatalf("first line = %q, %v, want %q", first, err, "data: 1\n")
	}
	select {
	case err := <-handlerErr:
		t.Fatalf("handler returned (%v) before the client read the first event, want it still running", err)
	default:
	}
	close(firstRead)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the other events: %v", err)
	}
	if !strings.Contains(string(rest), "data: 3\n") {
		t.Errorf("events after the first = %q, want them up to data: 3", rest)
	}
	if err := <-handlerErr; err != nil {
		t.Errorf("handler: %v", err)
	}
}

// streamEvents writes server-sent events: one as soon as the refresh is
// done, then, after firstRead is closed, one every 100ms, flushing each
// through http.ResponseController.
func streamEvents(w http.ResponseWriter, refreshed, firstRead <-chan struct{}) error {
	select {
	case <-refreshed:
	case <-time.After(10 * time.Second):
		return errors.New("the background refresh did not happen within 10s")
	}
	f, ok := w.(http.Flusher)
	if !ok {
		return errors.New("the writer is not an http.Flusher")
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "data: 1\n\n")
	f.Flush()
	select {
	case <-firstRead:
	case <-time.After(10 * time.Second):
		return errors.New("the client did not read the first event within 10s")
	}

	rc := http.NewResponseController(w)
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for i := 2; i <= 3; i++ {
		<-ticker.C
		fmt.Fprintf(w, "data: %d\n\n", i)
		if err := rc.Flush(); err != nil {
			return fmt.Errorf("ResponseController.Flush: %w", err)
		}
	}
	return nil
}

func TestRenewalHijack(t *testing.T) {
	tests := []struct {
		name   string
		hijack func(w http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error)
	}{
		{"http.Hijacker", func(w http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			h, ok := w.(http.Hijacker)
			if !ok {
				return nil, nil, errors.New("the writer is not an http.Hijacker")
			}
			return h.Hijack()
		}},
		{"ResponseController", func(w http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := renewalEnv(t, envOptions{})
			token := e.mintAged("sess_hijack", 50*time.Second)
			handlerErr := make(chan error, 1)
			h := e.mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := tt.hijack(w)
				if err != nil {
					handlerErr <- err
					return
				}
				defer conn.Close()
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
				handlerErr <- buf.Flush()
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()

			resp := getWithCookie(t, srv.Client(), srv.URL, token)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := <-handlerErr; err != nil {
				t.Fatalf("hijack: %v", err)
			}
			if resp.StatusCode != http.StatusOK || string(body) != "hijacked" {
				t.Errorf("response = %d %q, want 200 %q", resp.StatusCode, body, "hijacked")
			}
		})
	}
}
