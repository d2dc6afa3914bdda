package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator speaks HTTP/1.1 itself over one keep-alive connection
// per worker: each request is serialized once, up front (wire.go), and a
// response is read with a few slice operations. net/http's client would
// spend several times more CPU per request on the generator's single core
// and blur the measurement.

// conn is a keep-alive HTTP/1.1 client connection.
type conn struct {
	nc   net.Conn
	r    *bufio.Reader
	body []byte
}

func dial(ctx context.Context, addr string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (c *conn) close() { c.nc.Close() }

var errMalformedResponse = errors.New("malformed HTTP response")

// do sends one serialized request and reads the response. The body is
// valid until the next call.
func (c *conn) do(req []byte) (status int, body []byte, err error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, nil, fmt.Errorf("write request: %w", err)
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformedResponse, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformedResponse, line)
	}
	length, chunked, err := c.readHeaders()
	if err != nil {
		return 0, nil, err
	}
	if chunked {
		body, err = c.readChunked()
	} else {
		body, err = c.readN(length)
	}
	return status, body, err
}

// readHeaders returns Content-Length (-1 if absent) and whether the body
// is chunked.
func (c *conn) readHeaders() (length int, chunked bool, err error) {
	length = -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header %q", errMalformedResponse, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("%w: content-length %q", errMalformedResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	}
	if length < 0 && !chunked {
		return 0, false, fmt.Errorf("%w: neither content-length nor chunked", errMalformedResponse)
	}
	return length, chunked, nil
}

func (c *conn) readN(n int) ([]byte, error) {
	c.body = slices.Grow(c.body[:0], n)[:n]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return c.body, nil
}

func (c *conn) readChunked() ([]byte, error) {
	var body []byte
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("read chunk size: %w", err)
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(sizeText), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: chunk size %q", errMalformedResponse, line)
		}
		chunk := make([]byte, size+2) // with its CRLF
		if _, err := io.ReadFull(c.r, chunk); err != nil {
			return nil, fmt.Errorf("read chunk: %w", err)
		}
		if size == 0 {
			return body, nil // no trailers expected
		}
		body = append(body, chunk[:size]...)
	}
}

// verifyResult is the outcome of checking every answer of one server.
type verifyResult struct {
	wrong    int
	examples []string
	// byWant counts wrong answers by expected decision.
	byWant map[string]int
}

// verifyAnswers sends every request once (workers in parallel) and compares
// each answer with the expected decision.
func verifyAnswers(ctx context.Context, s *server, p payloads, reqs []request, workers int) (verifyResult, error) {
	res := verifyResult{byWant: map[string]int{}}
	var mu sync.Mutex
	var next atomic.Int64
	errc := make(chan error, workers)
	for range workers {
		go func() {
			errc <- verifyWorker(ctx, s, p.feed(), reqs, &next, func(i int, got string) {
				mu.Lock()
				defer mu.Unlock()
				res.wrong++
				res.byWant[reqs[i].want.String()]++
				if len(res.examples) < 8 {
					res.examples = append(res.examples, fmt.Sprintf("request %d (%s, action %s): want %s, got %s",
						i, reqs[i].scenario, reqs[i].check.Action, reqs[i].want, got))
				}
			})
		}()
	}
	var first error
	for range workers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return res, first
}

func verifyWorker(ctx context.Context, s *server, f *feed, reqs []request, next *atomic.Int64, wrong func(int, string)) error {
	c, err := dial(ctx, s.addr)
	if err != nil {
		return err
	}
	defer c.close()
	for {
		i := int(next.Add(1) - 1)
		if i >= len(reqs) || ctx.Err() != nil {
			return ctx.Err()
		}
		status, body, err := c.do(f.request(i))
		if err != nil {
			return fmt.Errorf("%s request %d: %w", s.name, i, err)
		}
		got, ok := parseAnswer(status, body, s.wrapInput)
		if !ok || got != reqs[i].want {
			wrong(i, describeAnswer(status, body, got, ok))
		}
	}
}

// parseAnswer reads a decision from a 200 answer: the body itself
// (Verdict) or its "result" (OPA's data API).
func parseAnswer(status int, body []byte, wrapped bool) (decision, bool) {
	if status != 200 {
		return decision{}, false
	}
	var d decision
	if wrapped {
		var doc struct {
			Result *decision `json:"result"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.Result == nil {
			return decision{}, false
		}
		d = *doc.Result
	} else if err := json.Unmarshal(body, &d); err != nil {
		return decision{}, false
	}
	return d, d.Reason != ""
}

func describeAnswer(status int, body []byte, d decision, ok bool) string {
	if ok {
		return d.String()
	}
	const max = 200
	if len(body) > max {
		body = body[:max]
	}
	return fmt.Sprintf("HTTP %d %s", status, body)
}

// roundResult is one timed round against one server at one concurrency.
type roundResult struct {
	requests  int
	failures  int // transport errors and non-200 answers
	elapsed   time.Duration
	latencies []time.Duration // sorted
	serverCPU time.Duration
	selfCPU   time.Duration
}

// runRound replays p round-robin from c workers, each over its own
// keep-alive connection, for d. Every connection carries one untimed
// request first, so the round measures requests, not the server accepting
// connections.
func runRound(ctx context.Context, s *server, p payloads, c int, d time.Duration) (roundResult, error) {
	conns := make([]*conn, c)
	warm := p.feed()
	for i := range conns {
		cn, err := dial(ctx, s.addr)
		if err != nil {
			return roundResult{}, err
		}
		defer cn.close()
		if _, _, err := cn.do(warm.request(i % warm.size())); err != nil {
			return roundResult{}, fmt.Errorf("warm-up request: %w", err)
		}
		conns[i] = cn
	}
	var next atomic.Uint64
	var stop atomic.Bool
	samples := make([][]time.Duration, c)
	failures := make([]int, c)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			<-start
			samples[w], failures[w] = worker(ctx, s.addr, conns[w], p.feed(), &next, &stop)
		})
	}
	srv0, self0, err := cpuTimes(s.pid())
	if err != nil {
		return roundResult{}, err
	}
	begin := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	close(start)
	wg.Wait()
	res := roundResult{elapsed: time.Since(begin)}
	srv1, self1, err := cpuTimes(s.pid())
	if err != nil {
		return roundResult{}, err
	}
	res.serverCPU, res.selfCPU = srv1-srv0, self1-self0
	for w := range c {
		res.latencies = append(res.latencies, samples[w]...)
		res.failures += failures[w]
	}
	res.requests = len(res.latencies)
	slices.Sort(res.latencies)
	return res, ctx.Err()
}

// cpuTimes samples the server's CPU time and this process's.
func cpuTimes(pid int) (server, self time.Duration, err error) {
	if server, err = cpuTime(pid); err != nil {
		return 0, 0, err
	}
	self, err = cpuTime(0)
	return server, self, err
}

// worker sends requests until stop, taking them round-robin from its
// feed, and records each successful one's latency (the request is ready
// before the clock starts). A failed request is counted and its connection
// replaced.
func worker(ctx context.Context, addr string, c *conn, f *feed, next *atomic.Uint64, stop *atomic.Bool) ([]time.Duration, int) {
	lat := make([]time.Duration, 0, 1<<15)
	failures := 0
	for !stop.Load() && ctx.Err() == nil {
		req := f.request(int((next.Add(1) - 1) % uint64(f.size())))
		t0 := time.Now()
		status, _, err := c.do(req)
		elapsed := time.Since(t0)
		if err == nil && status == 200 {
			lat = append(lat, elapsed)
			continue
		}
		failures++
		if err != nil {
			c.close()
			nc, err := dial(ctx, addr)
			if err != nil {
				return lat, failures
			}
			*c = *nc
		}
	}
	return lat, failures
}
