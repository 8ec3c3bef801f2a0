package postgres

// ListenerPID returns the backend pid of the store's LISTEN connection, 0
// before it has listened, for the tests of package postgres_test.
func (s *Store) ListenerPID() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listenerPID
}
