package gateway

import (
	"strconv"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// A record is replaced only by a later one, and a deletion is not undone
// by an earlier read: the KV read on a miss may lose a race with the watch.
func TestJobCacheRevisions(t *testing.T) {
	c := newJobCache(100)
	now := time.Now()
	const ticket = "0123456789abcdef0123456789abcdef"
	c.put(ticket, 5, 0, []byte("five"), "", false, "")
	c.put(ticket, 4, 0, []byte("four"), "", false, "")
	if cj := c.get(ticket, now); cj == nil || string(cj.raw) != "five" {
		t.Fatalf("after revisions 5 then 4: %+v, want 5's record", cj)
	}
	c.remove(ticket, 6)
	c.put(ticket, 5, 0, []byte("five"), "", true, "")
	if cj := c.get(ticket, now); cj != nil {
		t.Fatalf("after a deletion at 6, a read of 5 came back: %q", cj.raw)
	}
	c.put(ticket, 7, 0, []byte("seven"), "", true, "")
	if cj := c.get(ticket, now); cj == nil || string(cj.raw) != "seven" {
		t.Fatalf("after revision 7: %+v, want it", cj)
	}
	past := now.Add(-time.Minute).UTC().Format(schema.MetaTimeLayout)
	c.put(ticket, 8, 0, []byte("eight"), "", true, past)
	if cj := c.get(ticket, now); cj != nil {
		t.Fatalf("a record past its expiry was served: %q", cj.raw)
	}
}

// Past its bound, the cache drops finished jobs that nobody reads before
// one that is being polled, however many new jobs come.
func TestJobCacheKeepsWhatIsRead(t *testing.T) {
	c := newJobCache(100)
	now := time.Now()
	const hot = "hot"
	c.put(hot, 1, 0, []byte("polled"), "", true, "")
	for i := range 5000 {
		if c.get(hot, now) == nil {
			t.Fatalf("the polled job was dropped after %d new jobs", i)
		}
		c.put("job"+strconv.Itoa(i), uint64(i+2), 0, []byte("x"), "", i%3 != 0, "")
		if n := len(c.m); n > 100 {
			t.Fatalf("%d entries, bound 100", n)
		}
	}
}
