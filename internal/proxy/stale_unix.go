//go:build unix

package proxy

import (
	"net"
	"syscall"
	"time"
)

// staleCheck peeks at an idle connection's socket, without blocking and
// without consuming anything, to see whether the upstream closed it.
type staleCheck struct {
	raw   syscall.RawConn    // the TCP socket; nil when it cannot be reached
	read  func(uintptr) bool // peek, bound once so that a check allocates nothing
	stale bool               // the last check's answer
	buf   [1]byte
}

// init binds the check to nc, the TCP connection under any TLS.
func (s *staleCheck) init(nc net.Conn) {
	if sc, ok := nc.(syscall.Conn); ok {
		s.raw, _ = sc.SyscallConn()
		s.read = s.peek
	}
}

// peek is the raw read: any byte or end of stream means the connection is
// spent, "would block" means it is still open and quiet.
func (s *staleCheck) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), s.buf[:], syscall.MSG_PEEK)
	s.stale = n > 0 || err == nil || (err != syscall.EAGAIN && err != syscall.EINTR)
	return true
}

// stale reports whether an idle connection can no longer carry a request:
// the upstream closed it, reset it, or sent bytes nobody asked for.
func (c *conn) stale() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	if c.sc.raw == nil {
		return false
	}
	err := c.sc.raw.Read(c.sc.read)
	if err != nil && c.hasDeadline {
		// The deadline the last request left has passed: clear it, look again.
		c.setDeadline(time.Time{})
		err = c.sc.raw.Read(c.sc.read)
	}
	return err != nil || c.sc.stale
}
