package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/plenario-next/exportd/webhook"
)

// parseWebhookSettings reads the EXPORTD_WEBHOOK_* settings.
func parseWebhookSettings(vals map[string]*string) (webhookSettings, error) {
	var w webhookSettings
	var err error
	if w.Allow, err = webhook.ParseAllow(*vals["webhook-allow"]); err != nil {
		return w, err
	}
	for _, d := range []struct {
		flag     string
		to       *time.Duration
		min, max time.Duration
	}{
		{"webhook-timeout", &w.Timeout, 100 * time.Millisecond, 25 * time.Second},
		{"webhook-backoff", &w.Backoff, time.Millisecond, 24 * time.Hour},
		{"webhook-max-backoff", &w.MaxBackoff, time.Millisecond, 7 * 24 * time.Hour},
		{"webhook-max-age", &w.MaxAge, time.Second, 365 * 24 * time.Hour},
	} {
		v, err := time.ParseDuration(*vals[d.flag])
		if err != nil || v < d.min || v > d.max {
			return w, fmt.Errorf("bad %s %q (from %s to %s)", d.flag, *vals[d.flag], d.min, d.max)
		}
		*d.to = v
	}
	if w.MaxEndpoints, err = strconv.Atoi(*vals["webhook-max-endpoints"]); err != nil || w.MaxEndpoints < 1 {
		return w, fmt.Errorf("bad webhook-max-endpoints %q", *vals["webhook-max-endpoints"])
	}
	return w, nil
}
