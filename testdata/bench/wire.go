package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// Real traffic names resources a PDP has not seen before, so replaying the
// corpus as generated would let an exact decision cache answer nearly
// every timed request after the first pass. In unique mode each request is
// still serialized once, with a fixed-width placeholder as its resource id;
// a worker copies the bytes into its own buffer and writes a number from
// the run's one counter over the placeholder. The width never changes, so
// Content-Length stays right, and the copy costs the generator far less
// than a fresh json.Marshal would. The id never decides (expect.go reads
// only the resource's org_id and org_slug), so the expected answers hold.

// idDigits is the width of the counter written over the placeholder.
const idDigits = 16

// idPlaceholder is the resource id the unique-mode templates carry: "u"
// and idDigits zeros. The counter starts at 1, so it is never sent as is.
const idPlaceholder = "u0000000000000000"

// payloads are one server's serialized requests for one timed pass.
type payloads struct {
	wire [][]byte
	// idAt is the offset of the placeholder's digits in each of wire; nil
	// when the requests go out as serialized (repeat mode).
	idAt []int
	// ids numbers the unique resources of the whole run.
	ids *atomic.Uint64
}

// repeatPayloads serializes reqs for s with the corpus's resource ids.
func repeatPayloads(s *server, reqs []request) (payloads, error) {
	wire, err := encodeRequests(s, reqs)
	return payloads{wire: wire}, err
}

// uniquePayloads serializes reqs for s with the placeholder id, to be
// numbered from ids as they are sent.
func uniquePayloads(s *server, reqs []request, ids *atomic.Uint64) (payloads, error) {
	templated := make([]request, len(reqs))
	for i, r := range reqs {
		r.check.Resource.ID = idPlaceholder
		templated[i] = r
	}
	wire, err := encodeRequests(s, templated)
	if err != nil {
		return payloads{}, err
	}
	idAt := make([]int, len(wire))
	for i, w := range wire {
		if idAt[i], err = placeholderOffset(w); err != nil {
			return payloads{}, fmt.Errorf("request %d: %w", i, err)
		}
	}
	return payloads{wire: wire, idAt: idAt, ids: ids}, nil
}

// placeholderOffset finds the digits of the one "id":"<placeholder>" in a
// serialized request. Inside JSON strings quotes are escaped, so the
// pattern can only be the resource's id member.
func placeholderOffset(wire []byte) (int, error) {
	pattern := []byte(`"id":"` + idPlaceholder + `"`)
	if n := bytes.Count(wire, pattern); n != 1 {
		return 0, fmt.Errorf("want one resource id placeholder, found %d", n)
	}
	return bytes.Index(wire, pattern) + len(`"id":"u`), nil
}

// encodeRequests serializes every request for s: a complete HTTP/1.1
// request, headers and body.
func encodeRequests(s *server, reqs []request) ([][]byte, error) {
	out := make([][]byte, len(reqs))
	for i, r := range reqs {
		var body any = r.check
		if s.wrapInput {
			body = map[string]any{"input": r.check}
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request %d: %w", i, err)
		}
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			s.checkPath, s.addr, len(b))
		out[i] = append([]byte(head), b...)
	}
	return out, nil
}

// feed hands one worker its requests. It is not safe for concurrent use:
// each worker has its own.
type feed struct {
	p   payloads
	buf []byte
}

func (p payloads) feed() *feed { return &feed{p: p} }

// size is the number of requests the feed takes its ids from.
func (f *feed) size() int { return len(f.p.wire) }

// request returns request i ready to send: in repeat mode the shared
// bytes, in unique mode a copy in the feed's buffer with the next id
// written over the placeholder, valid until the next call.
func (f *feed) request(i int) []byte {
	if f.p.idAt == nil {
		return f.p.wire[i]
	}
	f.buf = append(f.buf[:0], f.p.wire[i]...)
	at := f.p.idAt[i]
	putDigits(f.buf[at:at+idDigits], f.p.ids.Add(1))
	return f.buf
}

// putDigits writes n in decimal into dst, zero-padded to its length.
func putDigits(dst []byte, n uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}
