package swrtoken

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Hostile session ids stay one path segment of the token endpoint, and
// the issuer decodes exactly the id that was asked for.
func TestAttackSessionIDStaysOneSegment(t *testing.T) {
	ids := map[string]string{
		"slash":             "sess/../../admin",
		"escaped slash":     "sess%2F..%2Fadmin",
		"escaped dots":      "%2e%2e",
		"NUL":               "sess\x00admin",
		"CRLF":              "sess\r\nX-Injected: 1",
		"query and hash":    "sess?x=1#frag",
		"non-ASCII":         "séss_ü",
		"invalid UTF-8":     "sess\xff\xfe",
		"semicolon":         "sess;jsessionid=1",
		"backslash":         `sess\..\admin`,
		"64 KiB":            strings.Repeat("s", 64<<10),
		"leading dot-dot":   "../v2/keys",
		"dot-dot then name": "..sess",
	}
	for name, id := range ids {
		t.Run(name, func(t *testing.T) {
			var gotID, gotPath string
			mux := http.NewServeMux()
			mux.HandleFunc("POST /v1/sessions/{id}/tokens", func(w http.ResponseWriter, r *http.Request) {
				gotID, gotPath = r.PathValue("id"), r.URL.Path
				http.Error(w, `{"errors":[{"code":"resource_not_found"}]}`, http.StatusNotFound)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()

			f := &SessionTokenFetcher{BaseURL: srv.URL, SecretKey: "sk_test_hostile", Client: srv.Client()}
			_, err := f.Fetch(context.Background(), id)
			var httpErr *HTTPError
			if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusNotFound {
				t.Fatalf("Fetch: error %v, want an *HTTPError with status 404 from the token route", err)
			}
			if gotID != id {
				t.Errorf("session id at the issuer has %d bytes and differs, want the %d bytes sent",
					len(gotID), len(id))
			}
			if !strings.HasPrefix(gotPath, "/v1/sessions/") || !strings.HasSuffix(gotPath, "/tokens") {
				t.Errorf("path at the issuer does not have the token route's shape")
			}
		})
	}
}

// A hostile token endpoint cannot put the secret key into an error,
// cannot make Fetch read without bound, and cannot hold Fetch past its
// context. TestSessionTokenFetcherBadResponses covers error bodies that
// echo the secret.
func TestAttackSessionFetcherHostileResponses(t *testing.T) {
	const secret = "sk_test_hostile_secret"
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"secret in a 200 non-JSON body", 200, "Bearer " + secret},
		{"jwt is a number", 200, `{"jwt":12345}`},
		{"secret as a JSON string body", 200, `"` + secret + `"`},
		{"huge body", 200, `{"jwt":"` + strings.Repeat("a", 2<<20) + `"}`},
		{"deep nesting", 200, strings.Repeat("[", 1<<20)},
		{"invalid UTF-8 jwt", 200, "{\"jwt\":\"\xff\xfe\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := cannedFetcher(t, tt.status, tt.body, secret)

			tok, err := f.Fetch(context.Background(), "sess_1")
			if tt.name == "invalid UTF-8 jwt" {
				// The value decodes with replacement characters and is no
				// JWT, so the cache rejects it later. Only leaks matter here.
				err = errors.Join(err, errors.New(tok.Value))
			} else if err == nil {
				t.Fatalf("Fetch: error = nil, want one")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error contains the secret key")
			}
		})
	}

	t.Run("slow body", func(t *testing.T) {
		started := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"jwt":"`))
			w.(http.Flusher).Flush()
			close(started)
			<-r.Context().Done()
		}))
		defer srv.Close()
		f := &SessionTokenFetcher{BaseURL: srv.URL, SecretKey: secret, Client: srv.Client()}

		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-started
			cancel()
		}()
		_, err := f.Fetch(ctx, "sess_1")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch: error %v, want one wrapping context.Canceled", err)
		}
	})
}
