package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// CreateConsumer implements store.Store.
func (s *Store) CreateConsumer(ctx context.Context, c store.Consumer) (store.Consumer, error) {
	if err := c.Validate(); err != nil {
		return store.Consumer{}, err
	}
	if len(c.Roles) == 0 {
		c.Roles = nil
	}
	roles, err := json.Marshal(append([]string{}, c.Roles...))
	if err != nil {
		return store.Consumer{}, err
	}
	c.CreatedAt = store.Timestamp(time.Now())
	var seq int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO consumers (name, roles, created_at) VALUES (?, ?, ?)`,
			c.Name, string(roles), formatTime(c.CreatedAt)); err != nil {
			if isUniqueViolation(err) {
				return store.ErrExists
			}
			return err
		}
		seq, err = bumpSequence(ctx, tx, store.KindConsumers)
		return err
	})
	if err != nil {
		return store.Consumer{}, fmt.Errorf("create consumer %q: %w", c.Name, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindConsumers, Version: seq})
	return c, nil
}

// Consumer implements store.Store.
func (s *Store) Consumer(ctx context.Context, name string) (store.Consumer, error) {
	c, err := scanConsumer(s.db.QueryRowContext(ctx, `SELECT name, roles, created_at FROM consumers WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Consumer{}, fmt.Errorf("consumer %q: %w", name, err)
	}
	return c, nil
}

// Consumers implements store.Store.
func (s *Store) Consumers(ctx context.Context) ([]store.Consumer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, roles, created_at FROM consumers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("consumers: %w", err)
	}
	defer rows.Close()
	var cs []store.Consumer
	for rows.Next() {
		c, err := scanConsumer(rows)
		if err != nil {
			return nil, fmt.Errorf("consumers: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consumers: %w", err)
	}
	return cs, nil
}

func scanConsumer(row interface{ Scan(...any) error }) (store.Consumer, error) {
	var c store.Consumer
	var roles, created string
	if err := row.Scan(&c.Name, &roles, &created); err != nil {
		return store.Consumer{}, err
	}
	if err := json.Unmarshal([]byte(roles), &c.Roles); err != nil {
		return store.Consumer{}, fmt.Errorf("stored roles: %w", err)
	}
	if len(c.Roles) == 0 {
		c.Roles = nil
	}
	var err error
	c.CreatedAt, err = parseTime(created)
	return c, err
}
