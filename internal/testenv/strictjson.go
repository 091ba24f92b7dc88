package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// StrictJSON checks data as the strictest reader would: one or more JSON
// values one after another (a document, or NDJSON's lines), none of their
// objects with a key twice. encoding/json's Unmarshal keeps the last of a
// repeated key without a word, which is how a lost value goes unnoticed;
// the Decoder's tokens see every key.
func StrictJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		t, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		d, _ := t.(json.Delim)
		if err := strictRest(dec, d); err != nil {
			return err
		}
	}
}

// strictRest reads the rest of a value opened by open ('{' or '['; 0: a
// scalar, already read), checking every object's keys.
func strictRest(dec *json.Decoder, open json.Delim) error {
	switch open {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := t.(string)
			if seen[k] {
				return fmt.Errorf("key %q twice in one object, at byte %d", k, dec.InputOffset())
			}
			seen[k] = true
			if err := strictValue(dec); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := strictValue(dec); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	t, err := dec.Token() // the closing delimiter
	if err != nil {
		return err
	}
	if _, ok := t.(json.Delim); !ok {
		return errors.New("testenv: unclosed JSON value")
	}
	return nil
}

func strictValue(dec *json.Decoder) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, _ := t.(json.Delim)
	return strictRest(dec, d)
}

// ResultValues counts the values in the results of JSON observations, as
// a client reads them: a JSON array of observations, Plenario's datadump
// envelope ({"startTime":…,"data":[…]}) or NDJSON, one a line; an error
// unless the data is StrictJSON.
func ResultValues(data []byte) (int, error) {
	if err := StrictJSON(data); err != nil {
		return 0, err
	}
	type obs struct {
		Results map[string]json.RawMessage `json:"results"`
	}
	var all []obs
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
	case trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &all); err != nil {
			return 0, err
		}
	case envelope(trimmed, &all):
	default:
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for dec.More() {
			var o obs
			if err := dec.Decode(&o); err != nil {
				return 0, err
			}
			all = append(all, o)
		}
	}
	n := 0
	for _, o := range all {
		n += len(o.Results)
	}
	return n, nil
}

// envelope reports whether data is one object with a "data" list of
// observations (Plenario's datadump, /query), and decodes the list into all.
func envelope[T any](data []byte, all *[]T) bool {
	var env struct {
		Data *[]T `json:"data"`
	}
	if json.Unmarshal(data, &env) != nil || env.Data == nil {
		return false
	}
	*all = *env.Data
	return true
}
