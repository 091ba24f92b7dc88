package chstore

// Coded reports whether it reads its names as codes (nameCodes).
func (it *RowIter) Coded() bool { return it.coded }
