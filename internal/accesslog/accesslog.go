// Package accesslog writes one JSON line per request through log/slog, off the
// request path: a request hands its Entry to a bounded queue and returns; one
// goroutine formats and writes, buffered, flushing at least every 200 ms. When
// the queue is full the line is dropped and counted, never waited for.
package accesslog

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Entry is one access log line.
type Entry struct {
	Time            time.Time
	RequestID       string
	Listener        string
	Method          string
	Path            string
	Route           string
	Status          int
	Decision        string
	Bytes           int64
	Latency         time.Duration
	UpstreamLatency time.Duration
	ClientIP        string
}

// Logger is an asynchronous access log. The zero value is not usable; a nil
// *Logger discards everything.
type Logger struct {
	queue   chan Entry
	out     *bufio.Writer
	closer  io.Closer
	handler slog.Handler
	onDrop  func()
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.Once
}

// queueSize bounds the memory a burst can take: about 200 bytes an entry.
const queueSize = 16384

// Open starts an access log writing to path: "stdout", "stderr" or a file
// (appended to, created with mode 0640). onDrop is called for each line dropped.
func Open(path string, onDrop func()) (*Logger, error) {
	var w io.Writer
	var c io.Closer
	switch path {
	case "", "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, err
		}
		w, c = f, f
	}
	return New(w, c, onDrop), nil
}

// New starts an access log writing to w; closer (may be nil) is closed by Close.
func New(w io.Writer, closer io.Closer, onDrop func()) *Logger {
	if onDrop == nil {
		onDrop = func() {}
	}
	out := bufio.NewWriterSize(w, 64<<10)
	l := &Logger{
		queue:   make(chan Entry, queueSize),
		out:     out,
		closer:  closer,
		handler: slog.NewJSONHandler(out, &slog.HandlerOptions{ReplaceAttr: dropLevel}),
		onDrop:  onDrop,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.run()
	return l
}

// Log queues e. It never blocks.
func (l *Logger) Log(e Entry) {
	if l == nil {
		return
	}
	select {
	case l.queue <- e:
	default:
		l.onDrop()
	}
}

// Close writes what is queued, flushes and closes the output.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closeMu.Do(func() { close(l.stop) })
	<-l.done
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}

func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	ctx := context.Background()
	for {
		select {
		case e := <-l.queue:
			l.write(ctx, e)
		case <-l.stop:
			// The queue is never closed, so a late Log cannot panic; what is
			// queued now is written, anything later is dropped with the logger.
			for {
				select {
				case e := <-l.queue:
					l.write(ctx, e)
				default:
					_ = l.out.Flush()
					return
				}
			}
		case <-tick.C:
			_ = l.out.Flush()
		}
	}
}

func (l *Logger) write(ctx context.Context, e Entry) {
	r := slog.NewRecord(e.Time, slog.LevelInfo, "access", 0)
	r.AddAttrs(
		slog.String("requestId", e.RequestID),
		slog.String("listener", e.Listener),
		slog.String("method", e.Method),
		slog.String("path", e.Path),
		slog.String("route", e.Route),
		slog.Int("status", e.Status),
		slog.String("decision", e.Decision),
		slog.Int64("bytes", e.Bytes),
		slog.Float64("latencyMs", ms(e.Latency)),
		slog.Float64("upstreamLatencyMs", ms(e.UpstreamLatency)),
		slog.String("clientIP", e.ClientIP),
	)
	_ = l.handler.Handle(ctx, r)
}

// dropLevel removes the level key: every access line has the same one.
func dropLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		return slog.Attr{}
	}
	return a
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
