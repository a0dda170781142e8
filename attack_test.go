package swrtoken

import (
	"encoding/binary"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzSessionEndpoint checks that any session id either is rejected or
// becomes exactly one path segment of the token endpoint, which decodes
// back to the id, under a base URL with a path prefix.
func FuzzSessionEndpoint(f *testing.F) {
	for _, seed := range []string{
		"sess_1", "sess/../admin", "%2F", "..", ".", "", "a\x00b", "a%00b",
		"sess?x=1#y", "../../v2", "\xff", "séss", "a;b", `a\b`, "%", "%zz",
	} {
		f.Add(seed)
	}
	fetcher := &SessionTokenFetcher{BaseURL: "https://api.example.test/proxy", SecretKey: "sk"}
	f.Fuzz(func(t *testing.T, id string) {
		u, err := fetcher.endpoint(id)
		if err != nil {
			return
		}
		escaped := u.EscapedPath()
		rest, ok := strings.CutPrefix(escaped, "/proxy/v1/sessions/")
		if !ok {
			t.Fatalf("escaped path %q lacks the prefix /proxy/v1/sessions/", escaped)
		}
		segment, ok := strings.CutSuffix(rest, "/tokens")
		if !ok || strings.Contains(segment, "/") {
			t.Fatalf("escaped path %q: the session id is not one segment", escaped)
		}
		got, err := url.PathUnescape(segment)
		if err != nil || got != id {
			t.Fatalf("segment decodes to %q (error %v), want %q", got, err, id)
		}
		if segment == "." || segment == ".." {
			t.Fatalf("segment %q is a dot segment", segment)
		}
		parsed, err := url.Parse(u.String())
		if err != nil || parsed.Host != "api.example.test" || parsed.RawQuery != "" || parsed.Fragment != "" {
			t.Fatalf("endpoint %q parses to another host, query or fragment", u.String())
		}
	})
}

// BenchmarkAttackVerifiedCachePutFull measures an insert into a full
// verified cache whose entries are all unexpired, as under a flood of
// distinct valid tokens. The cost grows with the shard size, because
// evict scans the whole shard for expired entries before it removes one.
func BenchmarkAttackVerifiedCachePutFull(b *testing.B) {
	for _, size := range []int{1_000, 10_000, 100_000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			now := time.Now()
			c := newVerifiedCache(size)
			ver := &verification{keepUntil: now.Add(time.Hour)}
			var key tokenHash
			next := func() tokenHash {
				n := binary.BigEndian.Uint64(key[1:9]) + 1
				binary.BigEndian.PutUint64(key[1:9], n)
				key[0] = byte(n)
				return key
			}
			for range 2 * size {
				c.put(next(), ver, now)
			}
			for b.Loop() {
				c.put(next(), ver, now)
			}
		})
	}
}
