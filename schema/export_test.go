package schema

import "time"

// ParseDatetimeLenient is ParseDatetime with the regular expression alone,
// for TestParseDatetimePlain to hold the fast path to.
func ParseDatetimeLenient(s string) (time.Time, error) {
	f, err := lenientDatetime(s)
	if err != nil {
		return time.Time{}, err
	}
	return f.time()
}

// AppendRecord is appendRecord, for TestMarshalRecord to count the records
// written by hand.
var AppendRecord = appendRecord
