package main

import (
	"encoding/json"
	"fmt"
	"net/url"
)

// withDataType is a result link with data_type set to format: a link
// without one serves JSON, and one made at submit names the format asked
// for then.
func withDataType(link, format string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	q := u.Query()
	q.Set("data_type", format)
	u.RawQuery = q.Encode()
	return u.String()
}

// enterData reads a JSON download up to its first observation: past
// Plenario's envelope, {"data":[ (its times and workers follow the list),
// so that the decoder's next values are the observations. A plain array
// (an exportd before the envelope) is read too.
func enterData(dec *json.Decoder) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if t == json.Delim('[') {
		return nil
	}
	if t != json.Delim('{') {
		return fmt.Errorf("not a datadump: starts with %v", t)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		if k == "data" {
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return fmt.Errorf("datadump: data is not a list (%v)", err)
			}
			return nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return fmt.Errorf("datadump: no data")
}
