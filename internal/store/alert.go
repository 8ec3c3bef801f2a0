package store

import "time"

// Alert is an alert as the store keeps it (CONTRACT §2, §4): what the
// monitor raised or, for a repeat within the cooldown, last updated. The
// store keeps alerts across restarts and, shared, shows every node's.
type Alert struct {
	ID       string
	Kind     string
	Severity string
	Subject  string
	Detail   string
	Count    int
	First    time.Time // the first occurrence; stored in UTC, microseconds
	Time     time.Time // the latest occurrence
}

// MaxAlerts is the most alerts Store.Alerts returns.
const MaxAlerts = 1000
