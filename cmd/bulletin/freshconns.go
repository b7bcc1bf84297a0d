package main

import (
	"net"
	"net/http"
	"sync"
)

// freshConns tracks the HTTP connections that have not begun a request.
// Browsers open such spare connections ahead of need, and
// http.Server.Shutdown counts one as busy until it is 5 s old: every
// restart right after a page load took 5 s. Shutdown closes them once
// the requests' grace is over (closeAll); by then nothing is served on
// them anyway.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newFreshConns() *freshConns { return &freshConns{conns: map[net.Conn]struct{}{}} }

// track is an http.Server.ConnState hook.
func (f *freshConns) track(c net.Conn, s http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s == http.StateNew {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

// closeAll closes the connections that still have not begun a request.
func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
		delete(f.conns, c)
	}
}
