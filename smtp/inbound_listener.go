package smtp

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// inboundListener limits concurrent connections with a semaphore and gives
// each connection a session deadline. An excess connection is told
// "421 too many connections" (RFC 5321 section 3.8) and closed at once, so
// a storm of connections cannot exhaust the server.
type inboundListener struct {
	net.Listener
	sem     chan struct{}
	session time.Duration
	idle    time.Duration
	grace   time.Duration
	log     *slog.Logger
	mu      sync.Mutex
	conns   map[*inboundConn]struct{}
	// draining gives connections accepted during Shutdown no time at all.
	draining bool
}

// tooManyConns is the reply to a connection over the limit.
const tooManyConns = "421 4.7.0 Too many connections, try again later\r\n"

// Accept returns the next connection within the limit.
func (l *inboundListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
		default:
			// A fresh socket's send buffer takes the short reply without
			// blocking; the deadline guards against the odd case.
			c.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(c, tooManyConns)
			c.Close()
			l.log.Debug("inbound connection refused: too many")
			continue
		}
		ic := &inboundConn{Conn: c, l: l, grace: l.grace, idle: l.idle}
		end := time.Now()
		l.mu.Lock()
		if !l.draining {
			end = end.Add(l.session)
		}
		ic.end.Store(end.UnixNano())
		l.conns[ic] = struct{}{}
		l.mu.Unlock()
		ic.SetDeadline(time.Time{})
		return ic, nil
	}
}

// open returns the open connections; with drain, it marks the listener
// draining first.
func (l *inboundListener) open(drain bool) []*inboundConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draining = l.draining || drain
	conns := make([]*inboundConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	return conns
}

// drain ends every session at its next read: an idle one is told 421 and
// closed now, a message being handled still gets its reply.
func (l *inboundListener) drain() {
	for _, c := range l.open(true) {
		c.endNow()
	}
}

// closeAll closes every open connection, for a forced shutdown.
func (l *inboundListener) closeAll() {
	for _, c := range l.open(false) {
		c.Close()
	}
}

// inboundConn clamps every deadline to the end of the session, so that the
// per-command deadlines go-smtp sets cannot extend a session forever. Writes
// get a short grace past the end, so the closing 421 still goes out.
//
// Every read that brings data moves the read deadline idle ahead, so the
// read timeout ends only a sender that stopped. go-smtp sets the deadline
// once per command, and its DATA reader returns only once the buffer it is
// given is full: one deadline would otherwise span a whole message and cut
// off a slow but steady sender. Under STARTTLS the TLS connection reads
// from this one, so its reads count too.
type inboundConn struct {
	net.Conn
	l     *inboundListener
	end   atomic.Int64 // Unix nanoseconds
	grace time.Duration
	idle  time.Duration
	once  sync.Once
}

// Read reads from the connection and, when data came, moves the read
// deadline on.
func (c *inboundConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.idle > 0 {
		c.SetReadDeadline(time.Now().Add(c.idle))
	}
	return n, err
}

func (c *inboundConn) endTime() time.Time { return time.Unix(0, c.end.Load()) }

// endNow moves the end of the session to now.
func (c *inboundConn) endNow() {
	c.end.Store(time.Now().UnixNano())
	c.SetReadDeadline(time.Time{})
}

func clampDeadline(t, limit time.Time) time.Time {
	if t.IsZero() || t.After(limit) {
		return limit
	}
	return t
}

func (c *inboundConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *inboundConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(clampDeadline(t, c.endTime()))
}

func (c *inboundConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(clampDeadline(t, c.endTime().Add(c.grace)))
}

// Close closes the connection and frees its place, once.
func (c *inboundConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}
