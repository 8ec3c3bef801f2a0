// Package backend opens the store backend that a --store URL names:
//
//	sqlite:PATH                     an SQLite file (created if missing)
//	sqlite::memory:                 a private in-memory SQLite database, for tests
//	postgres://… or postgresql://…  a PostgreSQL database (any libpq URL)
//
// It is the one place that knows every backend; the backends themselves
// know only package store.
package backend

import (
	"context"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/postgres"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// Open opens the store that url names and brings its schema up to date.
// Errors never include a PostgreSQL password.
func Open(ctx context.Context, url string) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if strings.HasPrefix(path, "//") {
			return nil, fmt.Errorf("store URL: write sqlite:PATH (sqlite:/var/lib/portcullis.db or sqlite:portcullis.db), not sqlite://")
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, postgres.Options{})
	default:
		if scheme, _, ok := strings.Cut(url, ":"); ok {
			// Only the scheme: the rest may hold a password.
			return nil, fmt.Errorf("store URL: unknown scheme %q; want sqlite:PATH, postgres://… or postgresql://…", scheme)
		}
		return nil, fmt.Errorf("store URL has no scheme; want sqlite:PATH, postgres://… or postgresql://…")
	}
}
