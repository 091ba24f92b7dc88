package schema

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// selectWindow reads the query's time window [Start, End), in whole
// seconds: end_datetime, or now; start_datetime, or the endpoint's window
// before the end (never before ClickHouse's epoch).
func (q *Query) selectWindow(p Problems, ep Endpoint, a queryArgs, now time.Time) {
	q.End = ceilSecond(now)
	if v, ok := a.get("end_datetime"); ok {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("end_datetime", MsgBadDatetime)
		} else {
			q.End = ceilSecond(t)
		}
	}
	window := DefaultWindow
	if ep == Raw {
		window = RawWindow
	}
	q.Start = q.End.Add(-window)
	if _, ok := a.get("end_datetime"); !ok {
		q.Start = ceilSecond(now.Add(-window))
	}
	if epoch := time.Unix(0, 0).UTC(); q.Start.Before(epoch) { // ClickHouse's DateTime starts there
		q.Start = epoch
	}
	if v, ok := a.get("start_datetime"); ok {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("start_datetime", MsgBadDatetime)
		} else {
			q.Start = ceilSecond(t)
		}
	}
	if len(p["start_datetime"])+len(p["end_datetime"]) == 0 && !q.Start.Before(q.End) {
		p.Add("start_datetime", "start_datetime must be before end_datetime.")
	}
}

func ceilSecond(t time.Time) time.Time {
	t = t.UTC()
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}

var datetimeRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(\s*(?:Z|z|[+-]\d{2}:?\d{2})|\s+\d{2}:\d{2})?$`)

// ParseDatetime reads the lenient ISO 8601 Plenario accepted: 2017-1-1,
// 2016-12-1T00:00:00.000, with T, t or a space, with or without Z or an
// offset; an offset's + may have become a space, as an unencoded + in a
// query string does. A time without an offset is UTC.
func ParseDatetime(s string) (time.Time, error) {
	f, ok := plainDatetime(s)
	if !ok {
		var err error
		if f, err = lenientDatetime(s); err != nil {
			return time.Time{}, err
		}
	}
	return f.time()
}

// datetimeFields are a datetime as written, before its checks.
type datetimeFields struct {
	y, mo, d, h, mi, sec, ns int
	loc                      *time.Location
}

// plainDatetime reads the form nearly every client sends,
// 2017-05-30T01:00:00, without the regular expression, which was 3 % of
// the gateway's CPU in the ticket burst's profile (two a submit); false
// for any other form, which the expression reads (TestParseDatetimePlain
// holds the two equal).
func plainDatetime(s string) (datetimeFields, bool) {
	f := datetimeFields{loc: time.UTC}
	if len(s) != 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':' {
		return f, false
	}
	ok := true
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				ok = false
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	f.y, f.mo, f.d = num(0, 4), num(5, 2), num(8, 2)
	f.h, f.mi, f.sec = num(11, 2), num(14, 2), num(17, 2)
	return f, ok
}

// lenientDatetime reads every form ParseDatetime takes with datetimeRE.
func lenientDatetime(s string) (datetimeFields, error) {
	f := datetimeFields{loc: time.UTC}
	m := datetimeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return f, Errorf(Invalid, MsgBadDatetime)
	}
	num := func(s string) int { i, _ := strconv.Atoi(s); return i }
	f.y, f.mo, f.d = num(m[1]), num(m[2]), num(m[3])
	f.h, f.mi, f.sec = num(m[4]), num(m[5]), num(m[6])
	if m[7] != "" {
		f.ns = num((m[7] + "000000000")[:9])
	}
	if z := strings.TrimSpace(m[8]); z != "" && z != "Z" && z != "z" {
		if z[0] != '+' && z[0] != '-' { // a query string's unencoded + read as a space
			if m[4] == "" {
				return f, Errorf(Invalid, MsgBadDatetime)
			}
			z = "+" + z
		}
		z = strings.ReplaceAll(z, ":", "")
		if num(z[1:3]) > 23 || num(z[3:5]) > 59 {
			return f, Errorf(Invalid, MsgBadDatetime)
		}
		off := (num(z[1:3])*60 + num(z[3:5])) * 60
		if z[0] == '-' {
			off = -off
		}
		f.loc = time.FixedZone("", off)
	}
	return f, nil
}

// time checks f's fields and ranges and makes its time, in UTC.
func (f datetimeFields) time() (time.Time, error) {
	if f.mo < 1 || f.mo > 12 || f.d < 1 || f.d > 31 || f.h > 23 || f.mi > 59 || f.sec > 59 || f.y < 1970 || f.y > 2105 {
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	t := time.Date(f.y, time.Month(f.mo), f.d, f.h, f.mi, f.sec, f.ns, f.loc)
	if t.Day() != f.d { // 2017-2-30 normalised into March
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	// The range holds in UTC, what ClickHouse's DateTime stores, not just
	// as written: 1970-01-01T00:00+01:00 is before the epoch.
	if t = t.UTC(); t.Year() < 1970 || t.Year() > 2105 {
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	return t, nil
}
