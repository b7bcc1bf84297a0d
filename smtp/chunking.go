package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// BDAT (RFC 3030). go-smtp's client (v0.26.0) only sends DATA, whose
// dot-stuffing writer handles a message byte by byte and flushes it in 4 KB
// writes; its server reads DATA byte by byte too. When the relay offers
// CHUNKING, the pool sends each message as one "BDAT n LAST" chunk itself,
// as it sends RSET: go-smtp has sent MAIL and RCPT and read their replies,
// so the session is between commands and nothing of go-smtp's is pending.
// The message goes out in one gathered write, unchanged, and the relay
// reads it as a counted block.
//
// Where the relay offers PIPELINING too (RFC 2920; go-smtp's server and
// Postfix do), MAIL, RCPT and the BDAT chunk go together in that one write
// and the three replies are read after it: one round trip a message
// instead of three. Without CHUNKING, MAIL, RCPT and DATA are pipelined
// (pipelineData). BDAT may be pipelined (RFC 3030 section 4.2), and a
// relay that refused MAIL or RCPT still reads the counted chunk and
// refuses it, so the session stays in step.

// pipeline runs a whole transaction in one write: MAIL, RCPT and the
// message as one BDAT LAST chunk; then it reads the three replies in order.
// It returns the first refusal, with at set to its stage. A connection
// that breaks while a reply is awaited leaves at at the stage of that
// reply: before the chunk's own reply the relay cannot have taken the
// message yet.
func (c *conn) pipeline(from, to string, parts [][]byte, size int, timeout time.Duration, at *stage) error {
	cmds, err := c.envelope(from, to, size)
	if err != nil {
		return err
	}
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	cmds = append(cmds, "BDAT "...)
	cmds = strconv.AppendInt(cmds, int64(size), 10)
	cmds = append(cmds, " LAST\r\n"...)
	if err := c.writeParts(cmds, parts); err != nil {
		return err
	}
	_, err = c.pipelinedReplies(stageEnd, 2, at)
	return err
}

// pipelineData is pipeline for a relay that offers PIPELINING but not
// CHUNKING: MAIL, RCPT and DATA go in one write (DATA must end a group,
// RFC 2920 section 3.1), and once DATA is answered 354 the message goes
// dot-stuffed, as go-smtp's DATA writer sends it: two round trips a
// message instead of four.
func (c *conn) pipelineData(from, to string, parts [][]byte, size int, timeout time.Duration, at *stage) error {
	cmds, err := c.envelope(from, to, size)
	if err != nil {
		return err
	}
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	cmds = append(cmds, "DATA\r\n"...)
	if err := c.writeParts(cmds, nil); err != nil {
		return err
	}
	code, err := c.pipelinedReplies(stageData, 3, at)
	if err != nil {
		if code == 354 {
			// A relay that refused every recipient should refuse DATA too;
			// one that did not gets an empty message, which it rejects.
			if _, werr := io.WriteString(c.nc, ".\r\n"); werr == nil {
				c.nc.readReply()
			}
		}
		return err
	}
	if c.dataBuf == nil {
		c.dataBuf = bufio.NewWriterSize(c.nc, 32<<10)
	}
	dw := textproto.NewWriter(c.dataBuf).DotWriter()
	for _, part := range parts {
		if _, err := dw.Write(part); err != nil {
			return err
		}
	}
	if err := dw.Close(); err != nil {
		return err
	}
	return c.finalReply(at)
}

// envelope returns the MAIL and RCPT commands of a transaction: MAIL with
// BODY=8BITMIME and SIZE where the relay offers them, as go-smtp's Mail
// sends it. An address with a line break is refused, as go-smtp's
// validateLine refuses it: it would start a command of its own.
func (c *conn) envelope(from, to string, size int) ([]byte, error) {
	if strings.ContainsAny(from, "\r\n") || strings.ContainsAny(to, "\r\n") {
		return nil, errors.New("smtp: a line must not contain CR or LF")
	}
	cmds := make([]byte, 0, 80+len(from)+len(to))
	cmds = append(cmds, "MAIL FROM:<"...)
	cmds = append(cmds, from...)
	cmds = append(cmds, '>')
	if c.eightBit {
		cmds = append(cmds, " BODY=8BITMIME"...)
	}
	if c.sized {
		cmds = append(cmds, " SIZE="...)
		cmds = strconv.AppendInt(cmds, int64(size), 10)
	}
	cmds = append(cmds, "\r\nRCPT TO:<"...)
	cmds = append(cmds, to...)
	cmds = append(cmds, ">\r\n"...)
	return cmds, nil
}

// pipelinedReplies reads the replies to MAIL, RCPT and a third command, at
// stage third, whose reply is a yes when its first digit is accept. It
// returns the third reply's code and the first refusal, with at set to the
// stage of the refusal or of the reply being awaited.
func (c *conn) pipelinedReplies(third stage, accept int, at *stage) (int, error) {
	var refused error
	for _, st := range [...]stage{stageMail, stageRcpt, third} {
		if refused == nil {
			*at = st
		}
		code, msg, err := c.nc.readReply()
		if err != nil {
			if refused != nil {
				// The refusal is the answer; the RSET after it finds the
				// session broken and closes it.
				return 0, refused
			}
			return 0, err
		}
		ok := code/100 == 2
		if st == third {
			ok = code/100 == accept
		}
		if refused == nil && !ok {
			refused = toSMTPError(code, msg)
		}
		if st == third || code == 421 {
			// After a 421 the relay is closing the session: no further
			// reply comes.
			return code, refused
		}
	}
	return 0, refused
}

// bdat sends parts, size bytes in all, as the message of the current
// transaction and reads the relay's answer. at becomes stageEnd once the
// whole chunk is written, so that a connection that breaks while the
// answer is awaited is not retried (the relay may have taken the message).
func (c *conn) bdat(parts [][]byte, size int, timeout time.Duration, at *stage) error {
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.writeParts([]byte("BDAT "+strconv.Itoa(size)+" LAST\r\n"), parts); err != nil {
		return err
	}
	return c.finalReply(at)
}

// finalReply reads the relay's answer to a whole message. at becomes
// stageEnd first: the message is written, so a connection that breaks
// while the answer is awaited is not retried (the relay may have taken it).
func (c *conn) finalReply(at *stage) error {
	*at = stageEnd
	code, msg, err := c.nc.readReply()
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return toSMTPError(code, msg)
	}
	return nil
}

// writeParts writes head and then parts. net.Buffers gathers them into one
// writev on a TCP connection; through the wrapper it would write them one
// by one.
func (c *conn) writeParts(head []byte, parts [][]byte) error {
	bufs := make(net.Buffers, 0, len(parts)+1)
	bufs = append(bufs, head)
	bufs = append(bufs, parts...)
	var w io.Writer = c.nc
	if _, ok := c.nc.Conn.(*net.TCPConn); ok {
		w = c.nc.Conn
	}
	_, err := bufs.WriteTo(w)
	return err
}

// replayConn is the connection go-smtp reads from. Bytes in pre are read
// before the connection's own: a replayed greeting after the pool's own
// STARTTLS, or what readReply took past the end of a reply.
type replayConn struct {
	net.Conn
	pre []byte
	// buf holds the bytes of a reply being read.
	buf []byte
}

func (r *replayConn) Read(b []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(b, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}

// maxReply bounds a reply the pool reads itself: RFC 5321 section 4.5.3.1.5
// allows 512 bytes a line; a few continuation lines fit easily.
const maxReply = 8 << 10

// errReplyTooLong is a relay answer longer than maxReply.
var errReplyTooLong = errors.New("smtp: reply too long")

// readReply reads one reply, possibly of several lines (RFC 5321 section
// 4.2.1), and returns its code and its text, lines joined by "\n". It
// reads in blocks, not byte by byte; whatever arrives after the reply's
// last line is kept for go-smtp's next read.
func (r *replayConn) readReply() (int, string, error) {
	r.buf = r.buf[:0]
	var block [512]byte
	code, start := 0, 0
	var msg []byte
	for {
		// Take every complete line in buf from start.
		for {
			i := bytes.IndexByte(r.buf[start:], '\n')
			if i < 0 {
				break
			}
			line := bytes.TrimRight(r.buf[start:start+i], "\r")
			start += i + 1
			c, last, text, err := parseReplyLine(line)
			if err != nil {
				return 0, "", err
			}
			if code == 0 {
				code = c
			} else if c != code {
				return 0, "", fmt.Errorf("smtp: reply lines with codes %d and %d", code, c)
			}
			if len(msg) > 0 {
				msg = append(msg, '\n')
			}
			msg = append(msg, text...)
			if last {
				if rest := r.buf[start:]; len(rest) > 0 {
					r.pre = append(r.pre, rest...)
				}
				return code, string(msg), nil
			}
		}
		if len(r.buf) >= maxReply {
			return 0, "", errReplyTooLong
		}
		n, err := r.Read(block[:])
		r.buf = append(r.buf, block[:n]...)
		if err != nil && n == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, "", err
		}
	}
}

// parseReplyLine splits "250-text" or "250 text" (or a bare "250").
func parseReplyLine(line []byte) (code int, last bool, text []byte, err error) {
	if len(line) < 3 {
		return 0, false, nil, fmt.Errorf("smtp: malformed reply line %q", line)
	}
	code, err = strconv.Atoi(string(line[:3]))
	if err != nil || code < 200 || code > 599 {
		return 0, false, nil, fmt.Errorf("smtp: malformed reply line %q", line)
	}
	switch {
	case len(line) == 3:
		return code, true, nil, nil
	case line[3] == ' ':
		return code, true, line[4:], nil
	case line[3] == '-':
		return code, false, line[4:], nil
	}
	return 0, false, nil, fmt.Errorf("smtp: malformed reply line %q", line)
}
