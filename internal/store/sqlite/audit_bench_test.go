package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// BenchmarkAppendAudit writes one batch of 512 records, as the audit writer
// does under load; ns/op divided by 512 is the store's cost per call.
func BenchmarkAppendAudit(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "p.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]store.AuditRecord, 512)
	for i := range batch {
		batch[i] = store.AuditRecord{Time: time.Now(), RequestID: "f17739642893-0000000000000001", ClientIP: "127.0.0.1", Method: "GET",
			Path: "/api/orders/42", Route: "orders", Status: 200, Decision: "allowed", PolicyVersion: 3, LatencyMs: 0.42, Listener: "public"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendAudit(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}
