package postgres

import (
	"context"
	"net"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

// keepAliveDialer dials the LISTEN connection with TCP keep-alives tight
// enough that a connection lost without a word is noticed in about 25 s.
var keepAliveDialer = &net.Dialer{
	Timeout:         10 * time.Second,
	KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3},
}

// The LISTEN connection's reconnect delays: doubled after each failure up
// to the maximum, back to the minimum once a connection has worked.
const (
	minReconnectDelay = 100 * time.Millisecond
	maxReconnectDelay = 5 * time.Second
)

// refresh reads the newest version of every kind and publishes any that
// moved on; the feed drops the rest.
func (s *Store) refresh(ctx context.Context) error {
	var policy, keys, consumers, blocks, secrets int64
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(max(number), 0) FROM policy_versions),
		(SELECT value FROM change_sequences WHERE kind = 'keys'),
		(SELECT value FROM change_sequences WHERE kind = 'consumers'),
		(SELECT value FROM change_sequences WHERE kind = 'blocks'),
		(SELECT value FROM change_sequences WHERE kind = 'secrets')`).Scan(&policy, &keys, &consumers, &blocks, &secrets)
	if err != nil {
		return err
	}
	s.feed.Publish(store.Change{Kind: store.KindPolicy, Version: policy})
	s.feed.Publish(store.Change{Kind: store.KindKeys, Version: keys})
	s.feed.Publish(store.Change{Kind: store.KindConsumers, Version: consumers})
	s.feed.Publish(store.Change{Kind: store.KindBlocks, Version: blocks})
	s.feed.Publish(store.Change{Kind: store.KindSecrets, Version: secrets})
	return nil
}

// listen keeps a LISTEN connection open until the store closes, and
// refreshes on every notification.
func (s *Store) listen() {
	defer s.wg.Done()
	delay := minReconnectDelay
	for {
		connected, err := s.listenOnce(s.ctx)
		if s.ctx.Err() != nil {
			return
		}
		if connected {
			delay = minReconnectDelay
		}
		s.opts.Logger.Warn("store: change notifications interrupted; reconnecting", "err", err, "retryIn", delay)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// listenOnce connects, listens and refreshes on each notification until the
// connection fails. connected reports whether it got as far as listening.
func (s *Store) listenOnce(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenConf)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return false, err
	}
	s.mu.Lock()
	s.listenerPID = conn.PgConn().PID()
	s.mu.Unlock()
	// Whatever changed while no one was listening.
	if err := s.refresh(ctx); err != nil {
		return true, err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		if err := s.refresh(ctx); err != nil {
			return true, err
		}
	}
}

// poll refreshes every PollInterval until the store closes: the fallback
// for a notification that never arrived.
func (s *Store) poll() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		err := s.refresh(s.ctx)
		switch {
		case s.ctx.Err() != nil:
			return
		case err != nil && !failing:
			s.opts.Logger.Warn("store: polling for changes failed", "err", err)
		case err == nil && failing:
			s.opts.Logger.Info("store: polling for changes works again")
		}
		failing = err != nil
	}
}
