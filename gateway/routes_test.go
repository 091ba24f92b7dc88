package gateway

import (
	"slices"
	"strings"
	"testing"
)

// No path can fit two templates: a route's methods, made once from the
// routes of its template (init), are then what pathMethods finds for any
// path the route serves, which a browser's preflight and the 405's Allow
// read.
func TestRoutesDoNotOverlap(t *testing.T) {
	for i, a := range routes {
		for _, b := range routes[i+1:] {
			if a.Path == b.Path || len(a.seg) != len(b.seg) {
				continue
			}
			overlap := true
			for k := range a.seg {
				if a.seg[k][0] != '{' && b.seg[k][0] != '{' && a.seg[k] != b.seg[k] {
					overlap = false
				}
			}
			if overlap {
				t.Errorf("a path can fit both %s and %s", a.Path, b.Path)
			}
		}
	}
	for _, r := range routes {
		path := strings.ReplaceAll(strings.ReplaceAll(r.Path, "{", "x"), "}", "x")
		var buf [maxSegments]string
		seg, _ := splitPath(path, &buf)
		if got := pathMethods(seg); !slices.Equal(got, r.methods) {
			t.Errorf("%s: got methods %v, want pathMethods' %v", r.Path, r.methods, got)
		}
	}
}

// splitPath splits as strings.Split(strings.Trim(path, "/"), "/") did, up
// to maxSegments segments.
func TestSplitPath(t *testing.T) {
	for _, path := range []string{"", "/", "//", "/healthz", "healthz", "/v1/api/jobs/abc", "/v1/api/jobs/abc/",
		"/v1//api", "///v1///", "/a/b/c/d/e/f/g/h", "/a/b/c/d/e/f/g/h/", "/a/b/c/d/e/f/g/h/i", "/a/b/c/d/e/f/g/h/i/j/k"} {
		want := strings.Split(strings.Trim(path, "/"), "/")
		var buf [maxSegments]string
		got, ok := splitPath(path, &buf)
		if len(want) > maxSegments {
			if ok {
				t.Errorf("%q: got %q, want no segments past %d", path, got, maxSegments)
			}
			continue
		}
		if !ok || !slices.Equal(got, want) {
			t.Errorf("%q: got %q (%v), want %q", path, got, ok, want)
		}
	}
}
