package schema

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed ddl/*.sql
var ddlFiles embed.FS

// DDL returns the ClickHouse statements that create exportd's tables, in
// order, one statement each. They run on ClickHouse 18.16 and on current
// releases, and are idempotent: CREATE with IF NOT EXISTS, and an ALTER
// TABLE ... ADD COLUMN whose column already exists counts as done (18.16
// has no ADD COLUMN IF NOT EXISTS; see IsAddColumn).
func DDL() []string {
	names, _ := fs.Glob(ddlFiles, "ddl/*.sql")
	sort.Strings(names)
	var out []string
	for _, n := range names {
		b, _ := ddlFiles.ReadFile(n)
		var lines []string // comments out first: they may hold a ';'
		for _, l := range strings.Split(string(b), "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
			if stmt = strings.TrimSpace(stmt); stmt != "" {
				out = append(out, stmt)
			}
		}
	}
	return out
}

// IsAddColumn reports whether a DDL statement adds a column, so that its
// "column already exists" failure means it ran before.
func IsAddColumn(stmt string) bool {
	f := strings.Fields(strings.ToUpper(stmt))
	return len(f) >= 5 && f[0] == "ALTER" && f[1] == "TABLE" && f[3] == "ADD" && f[4] == "COLUMN"
}
