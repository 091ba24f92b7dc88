package schema_test

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name  string
		input *schema.Error
		want  string
	}{
		{name: "fields, sorted", input: &schema.Error{Code: schema.Invalid, Fields: map[string][]string{"nodes": {"Invalid node ID: x"}, "features": {"a", "b"}}},
			want: "invalid: features: [a b]; nodes: [Invalid node ID: x];"},
		{name: "message and cause", input: schema.Wrap(schema.Unavailable, "ClickHouse is unavailable", io.ErrUnexpectedEOF),
			want: "ClickHouse is unavailable: unexpected EOF"},
		{name: "cause only", input: &schema.Error{Err: io.EOF}, want: "EOF"},
		{name: "message only", input: schema.Errorf(schema.NotFound, "Job not found: %s", "t"), want: "Job not found: t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.input.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name  string
		input error
		want  schema.Code
	}{
		{name: "nil", input: nil, want: schema.Internal},
		{name: "plain", input: errors.New("x"), want: schema.Internal},
		{name: "direct", input: schema.Errorf(schema.TooMany, "slow down"), want: schema.TooMany},
		{name: "wrapped", input: fmt.Errorf("submit: %w", schema.Errorf(schema.Conflict, "busy")), want: schema.Conflict},
		{name: "problems", input: schema.NetworkProblem("x"), want: schema.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.ErrorCode(tt.input); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	err := fmt.Errorf("read: %w", schema.Wrap(schema.Unavailable, "down", io.ErrClosedPipe))
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("got %v, want it to wrap %v", err, io.ErrClosedPipe)
	}
}

func TestCodeString(t *testing.T) {
	tests := []struct {
		input schema.Code
		want  string
	}{
		{schema.Internal, "internal"}, {schema.Invalid, "invalid"}, {schema.NotFound, "not found"}, {schema.Conflict, "conflict"},
		{schema.TooMany, "too many"}, {schema.Unavailable, "unavailable"}, {schema.Unauthorized, "unauthorized"}, {schema.Code(42), "code(42)"},
	}
	for _, tt := range tests {
		if got := tt.input.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestProblems(t *testing.T) {
	p := schema.Problems{}
	if err := p.Err(); err != nil {
		t.Errorf("got %v, want nil", err)
	}
	p.Add("nodes", "a")
	p.Add("nodes", "b")
	if got, want := invalidFields(t, p.Err()), map[string][]string{"nodes": {"a", "b"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, want := invalidFields(t, schema.NetworkProblem("chicago")), map[string][]string{"network": {"Invalid network name: chicago"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
