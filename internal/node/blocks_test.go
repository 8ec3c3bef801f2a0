package node

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// TestSyncBlocks: the node's set follows the store change by change — a new
// block applies, a removed one stops, one already expired is never loaded.
func TestSyncBlocks(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := &Node{store: st}
	sync := func() {
		t.Helper()
		if err := n.syncBlocks(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	create := func(id, kind, value string) {
		t.Helper()
		if _, err := st.CreateBlock(t.Context(), store.Block{ID: id, Kind: kind, Value: value, Reason: "test", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	create("b1", store.BlockIP, "192.0.2.0/24")
	sync()
	now := time.Now()
	if _, ok := n.blocks.Load().BlockedIP("192.0.2.9", now); !ok {
		t.Error("the block loaded at start does not apply")
	}
	create("b2", store.BlockConsumer, "mallory")
	sync()
	if s := n.blocks.Load(); s.Len() != 2 || !s.BlockedConsumer("mallory", now) {
		t.Errorf("after a new block: %d blocks, mallory blocked %v", s.Len(), s.BlockedConsumer("mallory", now))
	}
	if _, _, err := st.RemoveBlock(t.Context(), "b1"); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, ok := n.blocks.Load().BlockedIP("192.0.2.9", now); ok || n.blocks.Load().Len() != 1 {
		t.Error("a removed block still applies")
	}
	before := n.blocks.Load()
	sync() // nothing changed: the set stays
	if n.blocks.Load() != before {
		t.Error("a sync without changes rebuilt the set")
	}
}
