package events

// ForgetStreams drops the object store streams looked up so far, so that
// the next read looks at their configuration again: a test turns direct
// gets off as a replicated store has them (leaderReads).
func (b *Bus) ForgetStreams() {
	b.streamsMu.Lock()
	b.streams = nil
	b.streamsMu.Unlock()
}
