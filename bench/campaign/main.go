// Command campaign benchmarks campaign sending through the real bulletin
// binary to a go-smtp sink on loopback, and measures in the same run the
// cost of each stage alone (render+build, DKIM signing, SMTP to the same
// sink), to compare end-to-end throughput with the bound those stages set.
//
//	go run ./bench/campaign -n 100000
//
// It prints a table and never fails on timing.
package main

import (
	"bytes"
	"context"
	"crypto"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

func main() {
	n := flag.Int("n", 100000, "recipients per campaign")
	sizes := flag.String("sizes", "5,20", "message body sizes in KB")
	dkims := flag.String("dkim", "off,ed25519,rsa", "DKIM settings to run")
	memCheck := flag.Int("mem-n", 10000, "a second, smaller run (20 KB, RSA) to compare anonymous memory; 0 skips it")
	stageRelay := flag.String("smtp-stage", "", "internal: measure the SMTP stage alone to this sink and print seconds per message")
	stagePer := flag.Int("smtp-per", 500, "internal: with -smtp-stage, the messages each connection sends")
	stageGap := flag.Duration("smtp-gap", 0, "internal: with -smtp-stage, each connection's pause between messages")
	sinkCurve := flag.Bool("sink-curve", false, "print the sink's CPU a message against the rate messages reach it (5 KB, 8 connections), and exit")
	flag.Parse()
	if *stageRelay != "" {
		raw, err := io.ReadAll(os.Stdin)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(smtpStage(*stageRelay, raw, *stagePer, *stageGap))
		return
	}
	if *sinkCurve {
		printSinkCurve()
		return
	}
	work, err := os.MkdirTemp("", "bulletin-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "bulletin")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/bulletin").CombinedOutput(); err != nil {
		log.Fatalf("build: %v\n%s", err, out)
	}
	sk := startSink()
	fmt.Printf("machine: %d CPUs, %s; recipients %d; sink on %s\n\n", runtime.NumCPU(), runtime.Version(), *n, sk.addr)
	fmt.Printf("%-6s %-8s %10s %12s %12s %26s %12s %11s %11s %10s %8s %11s %14s\n", "size", "dkim", "msg/s", "CPU µs/msg", "sink µs/msg", "build/sign/SMTP (in) µs", "bound msg/s", "% of bound", "RssAnon MiB", "heap MiB", "time", "commit µs", "% with commit")
	for _, size := range strings.Split(*sizes, ",") {
		kb, _ := strconv.Atoi(size)
		seedDir := filepath.Join(work, "seed-"+size)
		id := seed(seedDir, *n, kb)
		for _, dk := range strings.Split(*dkims, ",") {
			// The stages are measured before and after the run, and averaged:
			// this machine's speed drifts by 10-20% over a minute.
			commitDir := filepath.Join(work, "commit")
			before := measureStages(kb, dk, sk, seedDir, commitDir, id)
			r := runCampaign(bin, seedDir, filepath.Join(work, "run"), id, dk, sk)
			st := before.mean(measureStages(kb, dk, sk, seedDir, commitDir, id))
			bound := st.bound()
			fmt.Printf("%-6s %-8s %10.0f %12.0f %12.0f %26s %12.0f %10.0f%% %11.1f %10.1f %8s %11.0f %13.0f%%\n", size+"KB", dk, r.rate,
				r.cpuPerMsg*1e6, r.sinkPerMsg*1e6, fmt.Sprintf("%.0f / %.0f / %.0f (%.0f)", st.build*1e6, st.sign*1e6, st.smtp*1e6, st.smtpInProc*1e6),
				bound, 100*r.rate/bound, r.rssAnon/(1<<20), r.heap, r.wall.Round(time.Millisecond), st.commit*1e6, 100*r.rate/st.boundWithCommit())
		}
	}
	if *memCheck > 0 {
		fmt.Println()
		small := filepath.Join(work, "seed-mem")
		id := seed(small, *memCheck, 20)
		r := runCampaign(bin, small, filepath.Join(work, "run"), id, "rsa", sk)
		fmt.Printf("anonymous memory, 20KB RSA: %d recipients %.1f MiB (Go heap %.1f MiB)\n", *memCheck, r.rssAnon/(1<<20), r.heap)
	}
	fmt.Println()
	for _, size := range strings.Split(*sizes, ",") {
		kb, _ := strconv.Atoi(size)
		b := body(kb)
		fmt.Printf("%sKB: messages of %d bytes before signing (HTML body %d bytes, text part and quoted-printable added)\n", size, len(built(b, nil)), len(b))
	}
	fmt.Println("msg/s: from the first to the last message at the sink; CPU: the child's user+system time per message (start-up included); sink: the go-smtp sink's (this process's) CPU per message meanwhile")
	fmt.Println("build/sign/SMTP: each stage alone, µs per message, the mean of a measurement before and one after the run: render+build and sign CPU time on one CPU; SMTP wall time through 8 connections from a process of its own (in: from the sink's process)")
	fmt.Println("bound = 1 / ((render+build + sign) CPU seconds per message / CPUs + SMTP seconds per message with 8 connections)")
	fmt.Println("commit: the CPU per message of durable commit groups alone (48 send records a group, as the runner writes them, with fsync, in a copy of the seeded store); not a stage of the bound above, shown because the runner cannot skip it")
	fmt.Println("% with commit: msg/s against the bound with the commit stage added to render+build and sign")
}

// body makes a personalised HTML newsletter whose message, as built for a
// recipient (headers, text and HTML parts, footer; before the DKIM
// signature), is at least kb kilobytes: the size of the message on the
// wire, not of the HTML alone, which the text part and quoted-printable
// roughly double.
func body(kb int) string {
	var b strings.Builder
	b.WriteString("<h1>The monthly letter</h1><p>Hello {{.Name}},</p>")
	para := `<p>Here is a paragraph of news with <a href="https://example.com/articles/%d">a link to an article</a>, some <strong>bold</strong> words and enough text to look like a real newsletter that people read on their phones.</p>`
	for i := 0; ; i++ {
		if len(built(b.String(), nil)) >= kb*1024 {
			return b.String()
		}
		fmt.Fprintf(&b, para, i)
	}
}

// built returns the message of campaign body for the first recipient,
// signed with keys.
func built(body string, keys []crypto.Signer) []byte {
	s, err := smtp.New(smtp.Options{FS: templates.FS, Domain: "bench.test", OutboxDir: os.TempDir(), DKIM: keys, DKIMSelector: "bulletin"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	raw, err := s.Preview(context.Background(), benchMessage(body, 0))
	if err != nil {
		log.Fatal(err)
	}
	return raw
}

// benchEdited is when the benchmark's campaign was last edited: one fixed
// time, so that its parsed templates are cached across messages as the
// runner's are (the cache is keyed by campaign and edit time).
var benchEdited = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// benchMessage is the message of the campaign with body to recipient i.
func benchMessage(body string, i int) *list.Message {
	c := &list.Campaign{ID: 1, Subject: "The monthly letter", Body: body, Format: list.FormatHTML, UpdatedAt: benchEdited}
	l := &list.List{ID: 1, Slug: "news", Name: "News"}
	sb := &list.Subscriber{ID: list.SubscriberID(i + 1), Email: fmt.Sprintf("reader%07d@example.net", i), Name: fmt.Sprint("Reader ", i)}
	return &list.Message{From: "News <news@bench.test>", To: sb.Email, ToName: sb.Name, Subscriber: sb, List: l, Campaign: c,
		UnsubscribeURL:    "https://bench.test/unsubscribe/abcdefghijklmnopqrstuvwxyz234567abcdefgh",
		UnsubscribeMailto: "unsubscribe+abcdefghijklmnopqrstuvwxyz234567abcdefgh@bench.test",
		ManageURL:         "https://bench.test/manage/abcdefghijklmnopqrstuvwxyz", ReturnPath: "bounces+abcdefghijklmnopqrstuvwxyz@bench.test",
		PostalAddress: "1 Bench Street, Benchville"}
}

// seed makes a store with n confirmed subscribers on one list and a draft
// campaign, without fsync (a benchmark fixture, not a server store).
func seed(dir string, n, kb int) list.CampaignID {
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(dir, "outbox", "new"), 0o700); err != nil {
		log.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "bulletin.db"), store.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.PutSetting(ctx, "instance.secret", []byte("bench-secret-0123456789abcdefghij")); err != nil {
		log.Fatal(err)
	}
	svc, err := list.New(list.Options{Store: db, Mailer: nopMailer{}, Secret: []byte("bench-secret-0123456789abcdefghij")})
	if err != nil {
		log.Fatal(err)
	}
	l, err := svc.CreateList(ctx, list.List{Slug: "news", Name: "News"}, list.Origin{})
	if err != nil {
		log.Fatal(err)
	}
	for i := range n {
		_, err := svc.AddSubscriber(ctx, list.NewSubscriber{Email: fmt.Sprintf("reader%07d@example.net", i), Name: fmt.Sprint("Reader ", i),
			Lists: []string{l.Slug}, State: list.StateConfirmed, Reason: "bench"}, list.HowImport, list.Origin{})
		if err != nil {
			log.Fatal(err)
		}
	}
	subj, b, lists := "The monthly letter", body(kb), []string{l.Slug}
	c, err := svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &b, Lists: &lists}, list.Origin{})
	if err != nil {
		log.Fatal(err)
	}
	return c.ID
}

type nopMailer struct{}

func (nopMailer) Send(context.Context, *list.Message) (string, error)    { return "", nil }
func (nopMailer) Preview(context.Context, *list.Message) ([]byte, error) { return nil, nil }
func (nopMailer) Lint(context.Context, *list.Message) []list.Finding     { return nil }

type runResult struct {
	rate, cpuPerMsg, sinkPerMsg, rssAnon, heap float64
	wall                                       time.Duration
}

var heapRE = "Go heap peak "

// runCampaign copies the seeded store and sends its campaign with the real
// binary, sampling the child's RssAnon.
func runCampaign(bin, seedDir, dir string, id list.CampaignID, dk string, sk *sink) runResult {
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "outbox"), 0o700); err != nil {
		log.Fatal(err)
	}
	copyFile(filepath.Join(seedDir, "bulletin.db"), filepath.Join(dir, "bulletin.db"))
	before := sk.count.Load()
	sk.reset()
	cmd := exec.Command(bin, "campaign", "send", "--data", dir, "--relay", "smtp+plain://"+sk.addr, "--rate", "0",
		"--max-conns", "8", "--dkim-sign", dk, "--postal-address", "1 Bench Street, Benchville", "--domain", "bench.test", "--base-url", "https://bench.test",
		"--log-level", "error", fmt.Sprint(id))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if g := os.Getenv("BENCH_GOGC"); g != "" {
		cmd.Env = append(os.Environ(), "GOGC="+g)
	}
	self0 := selfCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	go sampleRss(cmd.Process.Pid, &peak, stop)
	err := cmd.Wait()
	wall := time.Since(start)
	close(stop)
	if err != nil {
		log.Fatalf("campaign send (%s): %v\n%s", dk, err, out.String())
	}
	sent := float64(sk.count.Load() - before)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	span := time.Duration(sk.last.Load() - sk.first.Load())
	r := runResult{rate: (sent - 1) / span.Seconds(), cpuPerMsg: cpu.Seconds() / sent, rssAnon: float64(peak.Load()), wall: wall,
		sinkPerMsg: (selfCPU() - self0).Seconds() / sent}
	if i := strings.LastIndex(out.String(), heapRE); i >= 0 {
		fmt.Sscanf(out.String()[i+len(heapRE):], "%f", &r.heap)
	}
	return r
}

// selfCPU is this process's user+system time: the sink's share of the
// machine while a campaign runs (the sampler's is negligible).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleRss records the peak RssAnon of a process: bbolt's file mapping
// makes plain RSS misleading.
func sampleRss(pid int, peak *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					if kb*1024 > peak.Load() {
						peak.Store(kb * 1024)
					}
				}
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func copyFile(src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		log.Fatal(err)
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
}

// stages are the seconds per message of each stage alone. smtp is measured
// from a process of its own; smtpInProc, from the sink's process, is shown
// for comparison.
// commit, the CPU seconds per message of the runner's durable commit
// groups, is not one of the stages of the bound.
type stages struct{ build, sign, smtp, smtpInProc, commit float64 }

// mean averages two measurements of the stages.
func (st stages) mean(o stages) stages {
	return stages{build: (st.build + o.build) / 2, sign: (st.sign + o.sign) / 2, smtp: (st.smtp + o.smtp) / 2,
		smtpInProc: (st.smtpInProc + o.smtpInProc) / 2, commit: (st.commit + o.commit) / 2}
}

// bound is the messages per second the stages allow together on this
// machine: render, build and sign spread over every CPU, then SMTP.
func (st stages) bound() float64 {
	return 1 / ((st.build+st.sign)/float64(runtime.NumCPU()) + st.smtp)
}

// boundWithCommit is bound with the durable commit groups' CPU spread over
// every CPU too.
func (st stages) boundWithCommit() float64 {
	return 1 / ((st.build+st.sign+st.commit)/float64(runtime.NumCPU()) + st.smtp)
}

// measureStages measures each stage alone, and the commit groups in a copy
// of the store seeded in seedDir, made in commitDir.
func measureStages(kb int, dk string, sk *sink, seedDir, commitDir string, id list.CampaignID) stages {
	body := body(kb)
	perMsg := func(keys []crypto.Signer) float64 {
		s, err := smtp.New(smtp.Options{FS: templates.FS, Domain: "bench.test", OutboxDir: os.TempDir(), DKIM: keys, DKIMSelector: "bulletin"})
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		const rounds = 1000
		start := time.Now()
		for i := range rounds {
			if _, err := s.Preview(context.Background(), benchMessage(body, i)); err != nil {
				log.Fatal(err)
			}
		}
		return time.Since(start).Seconds() / rounds
	}
	build := median3(func() float64 { return perMsg(nil) })
	sign := 0.0
	var keys []crypto.Signer
	if dk != "off" {
		k, err := smtp.GenerateKey(map[string]string{"rsa": "rsa", "ed25519": "ed25519"}[dk])
		if err != nil {
			log.Fatal(err)
		}
		keys = []crypto.Signer{k}
		sign = max(median3(func() float64 { return perMsg(keys) })-build, 0)
	}
	raw := built(body, keys)
	return stages{build: build, sign: sign,
		smtp:       median3(func() float64 { return smtpStageApart(sk.addr, raw, stageMessages, 0) }),
		smtpInProc: median3(func() float64 { return smtpStage(sk.addr, raw, stageMessages, 0) }),
		commit:     commitStage(seedDir, commitDir, id)}
}

// commitStage measures the CPU per message of the runner's commit groups:
// 48 send records each (the runner's default), with their Message-IDs, the cursor and the
// counters, written by store.CommitSends with fsync to a copy of the seeded
// store, as the binary writes them. The sink is idle meanwhile, so this
// process's CPU time is the store's.
func commitStage(seedDir, dir string, id list.CampaignID) float64 {
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bulletin.db")
	copyFile(filepath.Join(seedDir, "bulletin.db"), path)
	db, err := store.Open(path, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	const group, groups = 48, 200
	next := list.SubscriberID(0)
	return median3(func() float64 {
		start := selfCPU()
		for range groups {
			now := time.Now()
			b := list.SendBatch{Records: make([]list.SendRecord, group), Delta: list.Stats{Sent: group}}
			for i := range b.Records {
				next++
				b.Records[i] = list.SendRecord{Campaign: id, Subscriber: next, Outcome: list.OutcomeSent, Attempts: 1, FirstTry: now, At: now,
					MessageID: fmt.Sprintf("%011x%016x@bench.test", now.UnixMilli(), uint64(next))}
			}
			b.Cursor = next
			if _, err := db.CommitSends(context.Background(), id, b); err != nil {
				log.Fatal(err)
			}
		}
		return (selfCPU() - start).Seconds() / (group * groups)
	})
}

// median3 is the median of three measurements: a stage measured once in a
// fraction of a second swings with whatever else the machine does.
func median3(measure func() float64) float64 {
	m := []float64{measure(), measure(), measure()}
	slices.Sort(m)
	return m[1]
}

// smtpStageApart measures the SMTP stage in a process of its own, as the
// binary sends: this program run again with -smtp-stage. Measured in the
// sink's own process, client and sink hand each other the turn without
// waking another process, which no real sender can do (5 KB: 49 µs a
// message in-process, 75 µs apart).
func smtpStageApart(addr string, raw []byte, per int, gap time.Duration) float64 {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(self, "-smtp-stage", addr, "-smtp-per", strconv.Itoa(per), "-smtp-gap", gap.String())
	cmd.Stdin = bytes.NewReader(raw)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("SMTP stage: %v", err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		log.Fatalf("SMTP stage: %v", err)
	}
	return v
}

// stageConns and stageMessages are the SMTP stage's connections, as the
// binary sends, and messages a connection.
const stageConns, stageMessages = 8, 500

// smtpStage sends a prebuilt message through the sender's own relay
// sessions, per messages on each of stageConns reused connections, each
// pausing gap after each message, and returns the wall seconds per message.
func smtpStage(addr string, raw []byte, per int, gap time.Duration) float64 {
	const conns = stageConns
	s, err := smtp.New(smtp.Options{FS: templates.FS, Domain: "bench.test", Relay: "smtp+plain://" + addr, MaxConns: conns})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for range per {
				if err := s.SendRaw(context.Background(), "bounces@bench.test", "reader@example.net", raw); err != nil {
					log.Fatal(err)
				}
				if gap > 0 {
					time.Sleep(gap)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start).Seconds() / float64(conns*per)
}

// printSinkCurve measures the SMTP stage with each connection pausing
// between messages, so that messages reach the sink more slowly than it
// can take them, and prints the sink's CPU a message at each rate. A Go
// server that waits between messages pays for each wait (its idle threads
// spin, then sleep, and are woken): a campaign run, whose messages arrive
// as fast as they are built, costs the sink more a message than the SMTP
// stage alone, which keeps it busy.
func printSinkCurve() {
	sk := startSink()
	raw := built(body(5), nil)
	const per = 2500
	fmt.Printf("%-10s %12s %16s\n", "pause", "msg/s", "sink µs/msg")
	for _, gap := range []time.Duration{0, 200 * time.Microsecond, 400 * time.Microsecond, 800 * time.Microsecond, 1600 * time.Microsecond} {
		c0 := selfCPU()
		secs := smtpStageApart(sk.addr, raw, per, gap)
		fmt.Printf("%-10s %12.0f %16.1f\n", gap, 1/secs, (selfCPU()-c0).Seconds()*1e6/(stageConns*per))
	}
	fmt.Println("pause: each of the 8 connections' pause after each message; sink: this process's CPU a message meanwhile")
}

// sink is a go-smtp server that counts and discards messages.
type sink struct {
	addr  string
	count atomic.Int64
	// first and last are the arrival times (UnixNano) of the first and last
	// message since reset: the sending rate without process start-up.
	first, last atomic.Int64
}

func (s *sink) reset() { s.first.Store(0); s.last.Store(0) }

func startSink() *sink {
	s := &sink{}
	srv := gosmtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.MaxRecipients = 100
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s.addr = l.Addr().String()
	go srv.Serve(l)
	return s
}

func (s *sink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *sink }

func (ss *sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	ss.s.count.Add(1)
	now := time.Now().UnixNano()
	ss.s.first.CompareAndSwap(0, now)
	ss.s.last.Store(now)
	return nil
}
func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }
