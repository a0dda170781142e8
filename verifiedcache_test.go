package swrtoken

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

// keyInShard returns a distinct key i that falls into shard.
func keyInShard(shard, i byte) tokenHash {
	var k tokenHash
	k[0] = shard
	k[1] = i
	return k
}

func TestVerifiedCacheGet(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newVerifiedCache(64)
	key := keyInShard(3, 1)
	c.put(key, &verification{generation: 7, keepUntil: now.Add(time.Minute)}, now)

	tests := []struct {
		name       string
		generation uint64
		at         time.Time
		wantHit    bool
	}{
		{"before keepUntil", 7, now.Add(59 * time.Second), true},
		{"other generation", 8, now, false},
		{"at keepUntil", 7, now.Add(time.Minute), false},
		{"after keepUntil, entry removed", 7, now, false},
	}
	for _, tt := range tests {
		got := c.get(key, tt.generation, tt.at)
		if (got != nil) != tt.wantHit {
			t.Errorf("%s: hit = %v, want %v", tt.name, got != nil, tt.wantHit)
		}
	}
	if n := c.len(); n != 0 {
		t.Errorf("entries after expiry = %d, want 0", n)
	}
}

func TestVerifiedCacheBounded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newVerifiedCache(2 * verifiedCacheShards) // 2 per shard
	for shard := range byte(verifiedCacheShards) {
		for i := range byte(10) {
			c.put(keyInShard(shard, i), &verification{keepUntil: now.Add(time.Hour)}, now)
		}
	}
	if got, want := c.len(), 2*verifiedCacheShards; got != want {
		t.Errorf("entries = %d, want %d", got, want)
	}
}

func TestVerifiedCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newVerifiedCache(2 * verifiedCacheShards)
	live, expired, added := keyInShard(5, 1), keyInShard(5, 2), keyInShard(5, 3)
	c.put(live, &verification{keepUntil: now.Add(time.Hour)}, now)
	c.put(expired, &verification{keepUntil: now.Add(time.Second)}, now)

	later := now.Add(time.Minute)
	c.put(added, &verification{keepUntil: now.Add(time.Hour)}, later)
	if c.get(live, 0, later) == nil {
		t.Error("live entry evicted, want the expired one evicted")
	}
	if c.get(added, 0, later) == nil {
		t.Error("added entry missing")
	}
}

func TestVerifiedCacheNil(t *testing.T) {
	c := newVerifiedCache(-1)
	if c != nil {
		t.Fatalf("newVerifiedCache(-1) = %v, want nil", c)
	}
	now := time.Now()
	c.put(tokenHash{}, &verification{keepUntil: now.Add(time.Hour)}, now)
	if got := c.get(tokenHash{}, 0, now); got != nil {
		t.Errorf("get on a nil cache = %v, want nil", got)
	}
}

func TestHashToken(t *testing.T) {
	token := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 40)
	if got, want := hashToken(token), tokenHash(sha256.Sum256([]byte(token))); got != want {
		t.Errorf("hashToken = %x, want the SHA-256 sum %x", got, want)
	}
	allocs := testing.AllocsPerRun(100, func() { hashToken(token) })
	if allocs != 0 {
		t.Errorf("hashToken allocations = %v, want 0", allocs)
	}
}
