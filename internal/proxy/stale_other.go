//go:build !unix

package proxy

import "net"

// staleCheck has nothing to peek with on this platform.
type staleCheck struct{}

func (staleCheck) init(net.Conn) {}

// stale reports whether an idle connection can no longer carry a request.
// Without a way to peek at the socket, only bytes already buffered show it;
// a connection closed while idle is caught by the retry instead.
func (c *conn) stale() bool { return c.br.Buffered() > 0 }
