// Package accesslog writes one JSON line per request, off the request path: a
// request hands its Entry to a bounded queue and returns; one goroutine
// wakes every 50 ms to format and write what is queued. When the queue
// is full the line is dropped and counted, never waited for.
//
// Lines have the shape of log/slog's JSON handler ({"time":…,"msg":"access",…})
// so that one log pipeline reads both logs, but are encoded by hand: with
// slog the writer goroutine took a tenth of the gateway's CPU under load.
package accesslog

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/jsonenc"
)

// Entry is one access log line.
type Entry struct {
	Time            time.Time
	RequestID       string
	Listener        string
	Method          string
	Path            string
	Route           string
	Consumer        string
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
	line    []byte // the line being encoded, reused
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
		queue:  make(chan Entry, queueSize),
		out:    out,
		closer: closer,
		onDrop: onDrop,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
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

// drainInterval is how often the writer wakes to write what is queued. Waking
// per line would cost a goroutine switch per request; every 50 ms costs
// nothing measurable, and 16384 queued lines cover 300,000 requests/s.
const drainInterval = 50 * time.Millisecond

func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(drainInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.drain()
		case <-l.stop:
			// The queue is never closed, so a late Log cannot panic; what is
			// queued now is written, anything later is dropped with the logger.
			l.drain()
			return
		}
	}
}

// drain writes every queued line and flushes.
func (l *Logger) drain() {
	for {
		select {
		case e := <-l.queue:
			l.write(e)
		default:
			_ = l.out.Flush()
			return
		}
	}
}

func (l *Logger) write(e Entry) {
	b := append(l.line[:0], '{')
	b = jsonenc.Time(jsonenc.Field(b, "time"), e.Time)
	b = append(b, `,"msg":"access"`...)
	b = jsonenc.String(jsonenc.Field(b, "requestId"), e.RequestID)
	b = jsonenc.String(jsonenc.Field(b, "listener"), e.Listener)
	b = jsonenc.String(jsonenc.Field(b, "method"), e.Method)
	b = jsonenc.String(jsonenc.Field(b, "path"), e.Path)
	b = jsonenc.String(jsonenc.Field(b, "route"), e.Route)
	b = jsonenc.String(jsonenc.Field(b, "consumer"), e.Consumer)
	b = jsonenc.Int(jsonenc.Field(b, "status"), int64(e.Status))
	b = jsonenc.String(jsonenc.Field(b, "decision"), e.Decision)
	b = jsonenc.Int(jsonenc.Field(b, "bytes"), e.Bytes)
	b = jsonenc.Millis(jsonenc.Field(b, "latencyMs"), e.Latency)
	b = jsonenc.Millis(jsonenc.Field(b, "upstreamLatencyMs"), e.UpstreamLatency)
	b = jsonenc.String(jsonenc.Field(b, "clientIP"), e.ClientIP)
	b = append(b, '}', '\n')
	l.line = b
	_, _ = l.out.Write(b)
}
