package sqlite

import "database/sql"

// DB exposes the store's pool to the tests of package sqlite_test.
func (s *Store) DB() *sql.DB { return s.db }
