package chstore

// Coded reports whether it reads its names as codes (nameCodes).
func (it *RowIter) Coded() bool { return it.coded }

// SetHourly has Aggregate read the hourly rollup when it can (on) or
// always observations (off), so that tests compare the two.
func (s *Store) SetHourly(on bool) { s.hourly = on }

// AfterHourlyCompute runs f between the backfill's computing of its months
// and their replacing of the rollup's (nil: nothing).
func AfterHourlyCompute(f func()) { afterHourlyCompute = f }
