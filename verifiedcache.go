package swrtoken

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCacheShards is the number of separately locked parts of a
// verifiedCache, so that requests on different cores rarely contend.
const verifiedCacheShards = 16

// tokenHash is the key of a token in a verifiedCache: its SHA-256 sum.
// The cache keeps no token text, and a forged token could only match the
// entry of another token by a SHA-256 collision.
type tokenHash [sha256.Size]byte

// hashBuffers holds buffers for hashToken, which would otherwise
// allocate a copy of each token to hash it.
var hashBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, DefaultMaxTokenLength)
	return &b
}}

func hashToken(token string) tokenHash {
	buf := hashBuffers.Get().(*[]byte)
	b := append((*buf)[:0], token...)
	sum := sha256.Sum256(b)
	*buf = b[:0]
	hashBuffers.Put(buf)
	return sum
}

// verifiedCache is a bounded set of tokens whose signature and static
// claims were verified, by the hash of the token. Entries are removed at
// their keepUntil time. An insert into a full shard first removes the
// shard's expired entries, or an arbitrary entry if none expired. It is
// safe for concurrent use. A nil *verifiedCache stores nothing.
type verifiedCache struct {
	perShard int
	shards   [verifiedCacheShards]verifiedShard
}

type verifiedShard struct {
	mu      sync.Mutex // guards entries
	entries map[tokenHash]*verification
}

// newVerifiedCache returns a cache of about size entries, or nil when
// size is not positive.
func newVerifiedCache(size int) *verifiedCache {
	if size <= 0 {
		return nil
	}
	c := &verifiedCache{perShard: (size + verifiedCacheShards - 1) / verifiedCacheShards}
	for i := range c.shards {
		c.shards[i].entries = make(map[tokenHash]*verification)
	}
	return c
}

func (c *verifiedCache) shard(key tokenHash) *verifiedShard {
	return &c.shards[key[0]%verifiedCacheShards]
}

// get returns the entry of key if it is kept at now and was verified
// under the key set generation, and nil otherwise.
func (c *verifiedCache) get(key tokenHash, generation uint64, now time.Time) *verification {
	if c == nil {
		return nil
	}
	s := c.shard(key)
	s.mu.Lock()
	v := s.entries[key]
	if v != nil && !now.Before(v.keepUntil) {
		delete(s.entries, key)
		v = nil
	}
	s.mu.Unlock()

	if v == nil || v.generation != generation {
		return nil
	}
	return v
}

// put stores v under key, making room when the shard is full.
func (c *verifiedCache) put(key tokenHash, v *verification, now time.Time) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[key]; !ok && len(s.entries) >= c.perShard {
		s.evict(now)
	}
	s.entries[key] = v
}

// evict removes the expired entries, or one arbitrary entry when none
// expired. The caller holds s.mu.
func (s *verifiedShard) evict(now time.Time) {
	n := len(s.entries)
	for k, v := range s.entries {
		if !now.Before(v.keepUntil) {
			delete(s.entries, k)
		}
	}
	if len(s.entries) < n {
		return
	}
	for k := range s.entries {
		delete(s.entries, k)
		return
	}
}

// len returns the number of entries, expired ones included.
func (c *verifiedCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}
