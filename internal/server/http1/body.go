package http1

import (
	"bufio"
	"errors"
	"io"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// Limits of the chunked decoder.
const (
	// maxChunkOverhead bounds what a chunked body may spend on chunk
	// lines beyond what its data pays for (net/http's rule: 16 bytes per
	// chunk plus 2 per data byte are free), against bodies of tiny chunks
	// with long extensions.
	maxChunkOverhead = 16 << 10
	// maxTrailerBytes bounds the trailer section, which is read and
	// dropped.
	maxTrailerBytes = 16 << 10
)

// Errors of a request body, each of which ends the connection.
var (
	errChunkLine     = errors.New("malformed chunk size line")
	errChunkCRLF     = errors.New("chunk data not followed by CRLF")
	errChunkOverhead = errors.New("chunked body has too much non-data")
	errTrailer       = errors.New("malformed or oversized trailer section")
	errBodyClosed    = errors.New("http: invalid Read on closed Body")
)

// body is a request body: Content-Length bytes, or chunks (RFC 9112 §7.1)
// decoded strictly, their extensions and trailers dropped.
type body struct {
	c        *conn
	w        *response
	chunked  bool
	left     int64 // bytes left: of the body, or of the current chunk
	inChunk  bool  // chunked: a chunk's data was started, its CRLF is due
	overhead int64 // chunked: chunk-line bytes not yet paid for by data
	started  bool  // the first read happened
	done     bool  // read to its end
	closed   bool
	err      error // sticky
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	return b.read(p)
}

// bodyDrain reads what is left of a body after the handler, closed or not.
type bodyDrain struct{ b *body }

func (d bodyDrain) Read(p []byte) (int, error) { return d.b.read(p) }

func (b *body) read(p []byte) (int, error) {
	switch {
	case b.done:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	case len(p) == 0:
		return 0, nil
	}
	if !b.started {
		b.started = true
		b.c.bodyDeadline()
		b.w.sendContinue()
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.readFixed(p)
	}
	if err == io.EOF {
		b.done = true
		b.c.bodyEnded()
	} else if err != nil {
		b.err = err
		b.w.closeAfter = true
	}
	return n, err
}

// Close makes later reads fail; what is left is drained, or the
// connection closed, once the handler returns.
func (b *body) Close() error {
	b.closed = true
	return nil
}

func (b *body) readFixed(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *body) readChunked(p []byte) (int, error) {
	for b.left == 0 {
		if b.inChunk {
			if err := b.chunkEnd(); err != nil {
				return 0, err
			}
			b.inChunk = false
		}
		size, err := b.chunkSize()
		if err != nil {
			return 0, err
		}
		if size == 0 {
			return 0, b.trailers()
		}
		b.left, b.inChunk = size, true
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// chunkEnd reads the CRLF after a chunk's data.
func (b *body) chunkEnd() error {
	crlf, err := b.c.br.Peek(2)
	if err != nil {
		return unexpected(err)
	}
	if crlf[0] != '\r' || crlf[1] != '\n' {
		return errChunkCRLF
	}
	_, _ = b.c.br.Discard(2)
	return nil
}

// chunkSize reads a chunk-size line: hex digits, then optionally
// extensions (";" ...), which are dropped.
func (b *body) chunkSize() (int64, error) {
	line, err := b.line()
	if err != nil {
		return 0, err
	}
	var size int64
	digits := 0
	for ; digits < len(line); digits++ {
		d := httpsyntax.Unhex(line[digits])
		if d < 0 {
			break
		}
		if size > (1<<63-1)>>4 {
			return 0, errChunkLine
		}
		size = size<<4 | int64(d)
	}
	if digits == 0 {
		return 0, errChunkLine
	}
	ext := line[digits:]
	for len(ext) > 0 && (ext[0] == ' ' || ext[0] == '\t') {
		ext = ext[1:]
	}
	if len(ext) > 0 && ext[0] != ';' || !httpsyntax.ValidFieldValue(ext) {
		return 0, errChunkLine
	}
	b.overhead += int64(len(line)) + 2 - 16 - 2*size
	b.overhead = max(b.overhead, 0)
	if b.overhead > maxChunkOverhead {
		return 0, errChunkOverhead
	}
	return size, nil
}

// trailers reads and drops the trailer section after the last chunk, up
// to its empty line.
func (b *body) trailers() error {
	total := 0
	for {
		line, err := b.line()
		if err != nil {
			if err == errChunkLine {
				return errTrailer
			}
			return err
		}
		if len(line) == 0 {
			return io.EOF
		}
		if total += len(line); total > maxTrailerBytes || !httpsyntax.ValidFieldValue(line) {
			return errTrailer
		}
	}
}

// line reads one line of chunk framing, without its CRLF (or LF).
func (b *body) line() ([]byte, error) {
	line, err := b.c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errChunkLine
	}
	if err != nil {
		return nil, unexpected(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
