package store

import (
	"fmt"
	"strconv"
	"time"
)

// AuditRecord is one completed call in the audit trail (CONTRACT §4). The
// store keeps what it is given: redaction happens before a record reaches
// it.
type AuditRecord struct {
	// Seq is assigned by AppendAudit: it increases with every record a
	// store appends, and orders the trail (newest is highest).
	Seq           int64
	Time          time.Time // when the request arrived; stored in UTC, microseconds
	RequestID     string
	Consumer      string // "" when anonymous
	ClientIP      string
	Method        string
	Path          string // with the query, if any; redacted
	Route         string // the route's name, or "_unmatched" (as in the access log and metrics)
	Status        int
	Decision      string // CONTRACT §4's vocabulary
	Reason        string // the refusal's public detail; "" when allowed
	PolicyVersion int64  // the policy version that decided
	LatencyMs     float64
	Listener      string
	KeyID         string   // the API key used, if any
	AI            *AuditAI // an AI call's facts (CONTRACT §4); nil for any other call
}

// AuditAI is what an AI call adds to its record.
type AuditAI struct {
	Provider, Model                string // the AIProvider's name and the provider's model that served (or was last tried)
	PromptTokens, CompletionTokens int64
	CostUSD                        float64
	Usage                          string // "provider" | "estimated"
	Ended                          string // "complete" | "client_disconnect" | "upstream_error"
}

// AuditSealer encrypts the audit trail at rest with the node's master key
// (secrets.Keyring): envelope encryption, as for stored secrets.
type AuditSealer interface {
	SealData(name string, value []byte) (SecretRecord, error)
	Open(rec SecretRecord) ([]byte, error)
	Rewrap(rec SecretRecord) (SecretRecord, error)
}

// AuditQuery selects audit records. Empty fields select everything.
type AuditQuery struct {
	Consumer string
	Route    string
	Since    time.Time // records at or after it; zero for all
	// Limit is how many records a page holds at most: DefaultAuditLimit
	// when <= 0, MaxAuditLimit at most.
	Limit int
	// Cursor is the next value of the previous page; "" for the first.
	Cursor string
}

// Page sizes of Store.Audit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// PageLimit returns q.Limit within its bounds.
func (q AuditQuery) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultAuditLimit
	case q.Limit > MaxAuditLimit:
		return MaxAuditLimit
	}
	return q.Limit
}

// AuditCursor returns the cursor of the records below seq, for a page that
// ended with the record seq.
func AuditCursor(seq int64) string { return strconv.FormatInt(seq, 10) }

// ParseAuditCursor returns the sequence number below which a page starts
// (0: from the newest). A cursor that no page returned is ErrInvalid.
func ParseAuditCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	seq, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || seq <= 0 {
		return 0, fmt.Errorf("%w audit cursor %q", ErrInvalid, cursor)
	}
	return seq, nil
}
