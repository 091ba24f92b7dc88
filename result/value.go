package result

import (
	"math"
	"strconv"
)

// AppendValue appends v as the shortest decimal that reads back as v; NaN
// and infinities, which JSON cannot carry, become empty (null in JSON).
func AppendValue(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	if out, ok := appendHundredths(b, v); ok {
		return out
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// maxHundredths bounds the values appendHundredths spells: n hundredths
// with n below 10^15 have at most 15 significant digits.
const maxHundredths = 1e15

// appendHundredths appends v as strconv.AppendFloat(b, v, 'f', -1, 64)
// does, a third of the time, when v is a whole number of hundredths, as
// sensor readings mostly are; ok is false for any other v. It is exact:
// when n/100 == v, the decimal n/100 reads back as v (the division and
// the parse both round the same rational), and two decimals of at most 15
// significant digits never read back as one float64, so the shortest
// decimal that reads back as v is n/100 itself.
func appendHundredths(b []byte, v float64) ([]byte, bool) {
	n := math.Round(v * 100)
	if v == 0 || n/100 != v || n >= maxHundredths || n <= -maxHundredths {
		return b, false // zero: its sign is strconv's business
	}
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	u := uint64(n)
	switch w := u / 100; { // spelt here below 10 000, as readings mostly are: strconv's was a third of the value's cost
	case w < 10:
		b = append(b, byte('0'+w))
	case w < 100:
		b = append(b, byte('0'+w/10), byte('0'+w%10))
	case w < 1000:
		b = append(b, byte('0'+w/100), byte('0'+w/10%10), byte('0'+w%10))
	case w < 10000:
		b = append(b, byte('0'+w/1000), byte('0'+w/100%10), byte('0'+w/10%10), byte('0'+w%10))
	default:
		b = strconv.AppendUint(b, w, 10)
	}
	switch frac := u % 100; {
	case frac == 0:
	case frac%10 == 0:
		b = append(b, '.', byte('0'+frac/10))
	default:
		b = append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
	}
	return b, true
}
