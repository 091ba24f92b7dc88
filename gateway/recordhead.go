package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// decodeHead reads the part of a stored job record the cache and the
// limits need. Every update of every job passes the watch, and a
// json.Unmarshal of recordHead scanned each record twice (checkValid,
// then the decode), query and plan included: 11 % of the gateway's CPU in
// the ticket burst's profile. scanHead walks the record once without
// reflection; a record it does not follow (an escaped string among the
// fields it keeps, or JSON it cannot read) is left to json.Unmarshal,
// which decides as before.
func decodeHead(raw []byte) (recordHead, bool) {
	if h, ok := scanHead(raw); ok {
		return h, true
	}
	var h recordHead
	return h, json.Unmarshal(raw, &h) == nil
}

// scanHead is decodeHead's fast path: false when it cannot tell.
func scanHead(b []byte) (recordHead, bool) {
	var h recordHead
	s := headScanner{b: b}
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "job":
			return s.object(func(key []byte) bool {
				if string(key) != "status" {
					return s.skip()
				}
				return s.object(func(key []byte) bool {
					switch string(key) {
					case "status":
						return s.str(&h.Job.Status.Status)
					case "meta":
						return s.object(func(key []byte) bool {
							if string(key) != "expiresAt" {
								return s.skip()
							}
							return s.str(&h.Job.Status.Meta.ExpiresAt)
						})
					}
					return s.skip()
				})
			})
		case "client":
			return s.str(&h.Client)
		case "seq":
			return s.uint(&h.Seq)
		}
		return s.skip()
	})
	if !ok {
		return h, false
	}
	s.space()
	return h, s.i == len(b)
}

// headScanner walks JSON written by encoding/json, one pass, no copies
// but the strings it keeps.
type headScanner struct {
	b []byte
	i int
}

func (s *headScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object calls field with each key of the object at s.i (positioned at
// its value) and stops at the first false.
func (s *headScanner) object(field func(key []byte) bool) bool {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.space()
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !field(key) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// plainString reads a string without escapes at s.i; false for one with
// any (json.Unmarshal unescapes those).
func (s *headScanner) plainString() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	rest := s.b[s.i+1:]
	n := bytes.IndexByte(rest, '"')
	if n < 0 || bytes.IndexByte(rest[:n], '\\') >= 0 {
		return nil, false
	}
	s.i += n + 2
	return rest[:n], true
}

func (s *headScanner) str(dst *string) bool {
	s.space()
	if s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	v, ok := s.plainString()
	if ok {
		*dst = string(v)
	}
	return ok
}

func (s *headScanner) uint(dst *uint64) bool {
	s.space()
	j := s.i
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(s.b[s.i:j]), 10, 64)
	if err != nil {
		return false
	}
	*dst, s.i = n, j
	return true
}

// skip passes over the value at s.i. Strings are skipped whole, escapes
// and all; brackets are counted outside them.
func (s *headScanner) skip() bool {
	s.space()
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if !s.skipString() {
				return false
			}
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return false
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return false
			}
			s.i++
		default:
			s.i++
		}
		if depth == 0 && s.atValueEnd() {
			return true
		}
	}
	return false
}

// atValueEnd reports whether the value before s.i is over: a closing
// quote or bracket just passed, or the next byte ends a scalar.
func (s *headScanner) atValueEnd() bool {
	prev := s.b[s.i-1]
	if prev == '"' || prev == '}' || prev == ']' {
		return true
	}
	if s.i >= len(s.b) {
		return true
	}
	switch s.b[s.i] {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func (s *headScanner) skipString() bool {
	s.i++ // the opening quote
	for {
		n := bytes.IndexByte(s.b[s.i:], '"')
		if n < 0 {
			return false
		}
		s.i += n + 1
		// An escaped quote has an odd run of backslashes before it.
		k := s.i - 2
		for k >= 0 && s.b[k] == '\\' {
			k--
		}
		if (s.i-2-k)%2 == 0 {
			return true
		}
	}
}
