package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery. Webhook-Id and Idempotency-Key are the
// event's id (its stream sequence), the same on every attempt, so that a
// receiver can drop a repeat; Webhook-Timestamp is when this attempt was
// signed, so that it can refuse an old one replayed.
const (
	HeaderID          = "Webhook-Id"
	HeaderIdempotency = "Idempotency-Key"
	HeaderTimestamp   = "Webhook-Timestamp"
	HeaderSignature   = "Webhook-Signature"
)

// secretPrefix marks a webhook secret, so that one pasted somewhere is
// recognised for what it is.
const secretPrefix = "whsec_"

// NewSecret returns a new endpoint secret: 32 random bytes in hex.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secretPrefix + hex.EncodeToString(b)
}

// NewID returns a new endpoint id: 16 random hex digits.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sign is the Webhook-Signature of body sent at ts: "v1=" and the hex
// HMAC-SHA256, keyed with the whole secret string, of the timestamp in
// unix seconds, ".", and the body as sent.
func Sign(secret string, ts time.Time, body []byte) string {
	return "v1=" + signature(secret, strconv.FormatInt(ts.Unix(), 10), body)
}

func signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery as a receiver would: the signature header
// (which may list several "v1=…" values, comma-separated, for a secret
// being rotated) against the timestamp header and the body, and the
// timestamp within tolerance of now.
func Verify(secret, timestamp, sigHeader string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	want := signature(secret, timestamp, body)
	for _, s := range strings.Split(sigHeader, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(s), "v1="); ok && hmac.Equal([]byte(v), []byte(want)) {
			return true
		}
	}
	return false
}
