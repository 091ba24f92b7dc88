package schema

import (
	"errors"
	"fmt"
	"sort"
)

// Code classifies an Error. It decides the HTTP status a gateway answers and
// what a consumer does with the JetStream message that caused it.
type Code int

// The error codes. The zero Code is Internal so that an unclassified error is
// never mistaken for the client's fault.
const (
	Internal      Code = iota // a bug or an unexpected state: 500, Nak then give up
	Invalid                   // the request is wrong: 400, Term
	NotFound                  // nothing by that name: 404, Term
	Conflict                  // the state forbids it: 409, Term
	TooMany                   // a limit was reached: 429, Nak with delay
	Unavailable               // a dependency is down or slow: 503, Nak with delay
	Unauthorized              // missing or wrong credentials: 401, Term
	Full                      // the result storage has no room: 507 with Retry-After, the job fails
	Unprocessable             // understood but at odds with an earlier request (an Idempotency-Key reused): 422
	Unsupported               // a body in a media type the route does not read: 415
)

var codeNames = [...]string{"internal", "invalid", "not found", "conflict", "too many", "unavailable", "unauthorized", "full", "unprocessable", "unsupported"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is exportd's one error type. Fields holds Plenario's field-keyed
// messages for Invalid errors; Message is what a client may read (an
// Invalid error with no Fields is Plenario's plain-string 400); Err is the
// cause, logged but never shown to a client for Internal errors.
type Error struct {
	Code    Code
	Message string
	Fields  map[string][]string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case len(e.Fields) > 0:
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s := e.Code.String() + ":"
		for _, k := range keys {
			s += fmt.Sprintf(" %s: %v;", k, e.Fields[k])
		}
		return s
	case e.Err != nil && e.Message != "":
		return e.Message + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Message
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with code c and a formatted client-facing message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with code c around err; msg is the client-facing text.
func Wrap(c Code, msg string, err error) *Error {
	return &Error{Code: c, Message: msg, Err: err}
}

// ErrorCode returns err's Code: Internal for anything that is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Problems collects field-keyed validation messages so that a request's every
// problem is reported at once, as Plenario did.
type Problems map[string][]string

// Add records msg against field.
func (p Problems) Add(field, msg string) { p[field] = append(p[field], msg) }

// Err returns nil when there are no problems, else an Invalid *Error.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Fields: map[string][]string(p)}
}
