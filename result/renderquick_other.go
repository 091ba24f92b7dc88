//go:build !amd64 || purego

package result

// runQuick is runQuickGo where there is no assembly version of it.
func (j *Renderer) runQuick(b, csv []byte, at int) ([]byte, int) { return j.runQuickGo(b, csv, at) }
