package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	c.CreatedAt = utc(time.Now())
	var seq int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO consumers (name, roles, created_at) VALUES ($1, $2, $3)`,
			c.Name, append([]string{}, c.Roles...), c.CreatedAt); err != nil {
			if isUniqueViolation(err) {
				return store.ErrExists
			}
			return err
		}
		var err error
		if seq, err = bumpSequence(ctx, tx, store.KindConsumers); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindConsumers, Version: seq})
	})
	if err != nil {
		return store.Consumer{}, fmt.Errorf("create consumer %q: %w", c.Name, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindConsumers, Version: seq})
	return c, nil
}

// Consumer implements store.Store.
func (s *Store) Consumer(ctx context.Context, name string) (store.Consumer, error) {
	c, err := scanConsumer(s.pool.QueryRow(ctx, `SELECT name, roles, created_at FROM consumers WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Consumer{}, fmt.Errorf("consumer %q: %w", name, err)
	}
	return c, nil
}

// Consumers implements store.Store.
func (s *Store) Consumers(ctx context.Context) ([]store.Consumer, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, roles, created_at FROM consumers ORDER BY name`)
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

func scanConsumer(row pgx.Row) (store.Consumer, error) {
	var c store.Consumer
	if err := row.Scan(&c.Name, &c.Roles, &c.CreatedAt); err != nil {
		return store.Consumer{}, err
	}
	if len(c.Roles) == 0 {
		c.Roles = nil
	}
	c.CreatedAt = utc(c.CreatedAt)
	return c, nil
}
