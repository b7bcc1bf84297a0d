package smtp

import (
	"crypto"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/bulletin/bulletin/list"
)

// newsletterBody is a personalised HTML newsletter of about 20 KB: headed
// sections with paragraphs, links, a list, an image and a table; the
// greeting, the first story and the closing use the subscriber's name, city
// and links (each further template action costs about a microsecond).
func newsletterBody() string {
	var b strings.Builder
	b.WriteString(`<h1>The Weekly, issue 12</h1><p>Hello {{.Name}},</p><p>here is what happened in {{index .Attributes "city"}} this week.</p>`)
	for i := 1; b.Len() < 20_000; i++ {
		fmt.Fprintf(&b, `<h2>Story %d: the community garden grows</h2>
<p><img src="https://cdn.example.org/img/%d.jpg" alt="Garden %d" width="600"></p>
<p>Volunteers planted forty new trees along the river on Saturday morning. The council had promised
the land three years ago; it took a petition with two thousand signatures and a long summer of
meetings to get the <a href="https://example.org/stories/%d?utm_source=newsletter&amp;utm_medium=email">lease signed</a>.
%s can join the next planting day &mdash; bring gloves.</p>
<ul><li>Saturday, 9:00 &ndash; planting</li><li>Sunday, 14:00 &ndash; <a href="https://example.org/picnic">picnic</a></li></ul>
<table role="presentation"><tr><td>Trees</td><td>40</td></tr><tr><td>Volunteers</td><td>112</td></tr></table>
`, i, i, i, i, you(i))
	}
	b.WriteString(`<p>Thanks for reading. <a href="{{.ManageURL}}">Change your preferences</a>.</p>`)
	return b.String()
}

func you(i int) string {
	if i == 1 {
		return "{{if .Name}}{{.Name}}, you{{else}}You{{end}}"
	}
	return "You"
}

func benchMessage() *list.Message {
	m := testMessage()
	m.Campaign.Body = newsletterBody()
	return m
}

// BenchmarkStages measures the cost per message of each stage on a 20 KB
// personalised newsletter: render (templates and text part), build (MIME,
// headers, quoted-printable), and DKIM signing with RSA-2048 and Ed25519,
// by Bulletin's signer and, for comparison, by go-msgauth's. Issue 3 asked
// render + build to cost less than Ed25519 signing with go-msgauth.
func BenchmarkStages(b *testing.B) {
	s := newTestSender(b, nil)
	m := benchMessage()
	r, err := s.render(m)
	if err != nil {
		b.Fatal(err)
	}
	built, err := s.build(m, r)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("body %d bytes, html part %d, text part %d, message %d", len(m.Campaign.Body), len(r.html), len(r.text), len(built.raw))
	b.Run("render", func(b *testing.B) {
		measure(b, func() error { _, err := s.render(m); return err })
	})
	b.Run("build", func(b *testing.B) {
		measure(b, func() error { _, err := s.build(m, r); return err })
	})
	b.Run("render+build", func(b *testing.B) {
		measure(b, func() error {
			r, err := s.render(m)
			if err == nil {
				_, err = s.build(m, r)
			}
			return err
		})
	})
	for _, kind := range []string{"rsa", "ed25519"} {
		sg, err := newSigner([]crypto.Signer{testKey(b, kind)}, "bulletin", "", time.Now)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("sign-"+kind, func(b *testing.B) {
			measure(b, func() error { _, err := sg.sign(built.raw, built.header, testDomain); return err })
		})
		b.Run("sign-"+kind+"-msgauth", func(b *testing.B) {
			k := testKey(b, kind)
			measure(b, func() error {
				ds, err := dkim.NewSigner(&dkim.SignOptions{Domain: testDomain, Selector: "bulletin", Signer: k,
					HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
					HeaderKeys: signedHeaders(built.header)})
				if err != nil {
					return err
				}
				if _, err := ds.Write(built.raw); err != nil {
					return err
				}
				return ds.Close()
			})
		})
	}
}

// BenchmarkPreview is the whole pipeline of one message, signed with
// RSA-2048, as Send runs it before handing it to the transport.
func BenchmarkPreview(b *testing.B) {
	s := newTestSender(b, func(o *Options) { o.DKIM = []crypto.Signer{testKey(b, "rsa")} })
	m := benchMessage()
	measure(b, func() error { _, err := s.Preview(b.Context(), m); return err })
}

func BenchmarkQP(b *testing.B) {
	src := []byte(HTMLToText(newsletterBody()) + newsletterBody())
	b.SetBytes(int64(len(src)))
	var dst []byte
	measure(b, func() error { dst = appendQP(dst[:0], src); return nil })
}

// BenchmarkRelayLatency sends a prebuilt message through 8 connections to
// a relay 10 ms away (a loopback proxy that delays every chunk 5 ms each
// way), in each transfer mode: what pipelining is worth when the relay is
// not on the same machine.
//
//	go test -run '^$' -bench RelayLatency -benchtime 800x ./smtp/
func BenchmarkRelayLatency(b *testing.B) {
	ts := newTestServer(b, nil)
	addr := delayProxy(b, ts.addr, 5*time.Millisecond)
	raw, err := newTestSender(b, nil).Preview(b.Context(), benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range transferModes {
		b.Run(mode, func(b *testing.B) {
			const conns = 8
			s := newTestSender(b, func(o *Options) { o.Relay, o.OutboxDir, o.MaxConns = "smtp+plain://"+addr, "", conns })
			setTransferMode(s, mode)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range conns {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := s.SendRaw(b.Context(), "bounces@news.example.com", "reader@example.org", raw); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// delayProxy forwards connections to target and delivers every chunk of
// bytes oneWay later, in both directions, as a network between sender and
// relay would. It returns its address.
func delayProxy(tb testing.TB, target string, oneWay time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go delayCopy(u, c, oneWay)
			go delayCopy(c, u, oneWay)
		}
	}()
	return l.Addr().String()
}

// delayCopy copies src to dst, each chunk d after it was read, in order.
func delayCopy(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now().Add(d), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
}
