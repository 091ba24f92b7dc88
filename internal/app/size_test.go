package app_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The house's size rule (docs/architecture.md, "Size"): a production file
// holds at most maxFileLines lines and a function at most maxFuncLines.
const maxFileLines, maxFuncLines = 500, 100

// oversized lists the production files that may break the size rule for
// now, each with why. It only shrinks: an entry whose file keeps the rule
// fails TestSizeLimits until it is removed, so a split lands with the
// entry's removal.
var oversized = map[string]string{}

// TestSizeLimits checks the size rule on every non-test .go file of the
// module (go/ast, so a function is counted from func to its closing brace,
// its doc comment not included). It is a test rather than a script so
// that go test ./... and make test keep the rule without anyone
// remembering to run it.
func TestSizeLimits(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from internal/app: %v", err)
	}
	over := map[string][]string{} // file → what breaks the rule in it
	files, funcs := 0, 0
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			over[rel] = append(over[rel], fmt.Sprintf("%d lines (limit %d)", n, maxFileLines))
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			funcs++
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
				over[rel] = append(over[rel], fmt.Sprintf("func %s: %d lines (limit %d)", funcName(fd), n, maxFuncLines))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 || funcs < 500 {
		t.Fatalf("found %d files and %d functions under %s, want the whole module", files, funcs, root)
	}
	var paths []string
	for p := range over {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if _, ok := oversized[p]; !ok {
			t.Errorf("%s: %s; split it by concept", p, strings.Join(over[p], ", "))
		}
	}
	for p, why := range oversized {
		if _, ok := over[p]; !ok {
			t.Errorf("%s keeps the size rule now: remove its entry from oversized (%q)", p, why)
		}
	}
}

// maxTrackedBytes bounds a file in the repository: the largest written by
// hand (gateway/openapi.json) is under 100 kB, a built exportd is 40 MB.
const maxTrackedBytes = 1 << 20

// TestNoLargeFiles: no file git tracks is over maxTrackedBytes, so a binary
// built at the root or in cmd/ (go build ./cmd/...) and added with the
// code is caught while its commit can still be amended: once on main,
// history keeps its bytes for good.
func TestNoLargeFiles(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		// An exported tree (git archive) has no index to ask; CI runs on a
		// clone, where this check runs.
		t.Skipf("not a git checkout (%v): no tracked files to check", err)
	}
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 100 {
		t.Fatalf("git ls-files listed %d files, want the whole repository", len(files))
	}
	for _, f := range files {
		info, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			continue // removed from the work tree, not yet from the index
		}
		if info.Size() > maxTrackedBytes {
			t.Errorf("%s is tracked and holds %d bytes (limit %d): a build output? git rm --cached it and ignore it", f, info.Size(), maxTrackedBytes)
		}
	}
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if g, ok := typ.(*ast.IndexExpr); ok {
		typ = g.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
