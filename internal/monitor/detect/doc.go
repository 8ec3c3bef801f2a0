// Package detect is the gateway's anomaly detection engine: it turns the stream
// of completed requests into security and health alerts (CONTRACT §2, Monitor).
//
// It is deliberately pure — no I/O, no goroutines, no wall clock — so that the
// same engine runs off the request path behind a bounded queue in the gateway
// and under a fake clock in tests: every decision is driven by the time carried
// by the events themselves, and replaying the same events gives the same alerts.
//
// Each detector keeps small, bounded state per subject (client IP, consumer,
// route): sliding windows of a fixed number of buckets, and distinct-value sets
// capped at the detector's threshold. Tracked subjects live in LRU tables with
// a size cap and an idle expiry, so a flood of new client addresses cannot grow
// memory without bound.
//
// An alert fires when a detector's threshold is reached; the detector's state
// for that subject is then reset, so a continuing attack re-fires once per
// threshold's worth of new evidence rather than on every event. The surge
// detectors (traffic.surge, ai.token_burn) fire at most once per interval
// instead. A repeat of the same kind and subject within the cooldown updates
// the existing alert (same ID, newer Time, higher Count) instead of raising a
// new one.
//
// Two detectors watch the AI gateway's calls: ai.token_burn, traffic.surge's
// baseline applied to the tokens each consumer (or anonymous address) uses,
// and ai.prompt_injection, raised on every call whose prompt matched the AI
// guard's prompt-injection heuristics. ai.prompt_injection is an extension
// of CONTRACT §2's alert kinds.
package detect
