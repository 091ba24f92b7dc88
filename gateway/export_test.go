package gateway

// SetRenderChunk makes downloads cut parts into chunks of n bytes of CSV
// to render, so that tests of small parts cut them too; it returns what
// puts the size back.
func SetRenderChunk(n int) (restore func()) {
	old := renderChunk.Swap(int64(n))
	return func() { renderChunk.Store(old) }
}
