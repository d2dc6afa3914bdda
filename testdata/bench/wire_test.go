package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUniquePayloads(t *testing.T) {
	own := resource{Type: "task", ID: "r_17", OrgID: "org_0001", OrgSlug: "acme-1"}
	tests := []struct {
		name  string
		wrap  bool // OPA's {"input": ...}
		check checkBody
		start uint64 // the run's counter before the round
	}{
		{"verdict", false, checkBody{Token: "eyJ.a-b_c.sig", Action: "tasks:read", Resource: own}, 0},
		{"opa input", true, checkBody{Token: "eyJ.a-b_c.sig", Action: "tasks:read", Resource: own}, 0},
		{"anonymous without id", false, checkBody{Action: "tasks:read", Resource: resource{Type: "task", OrgID: "org_0001"}}, 0},
		{"action named id", true, checkBody{Token: "t", Action: "id", Resource: resource{}}, 0},
		{"counter far along", false, checkBody{Token: "t", Action: "org:posts:publish", Resource: own}, 9_999_999_999_999_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &server{serverSpec: serverSpec{checkPath: "/v1/check", wrapInput: tt.wrap}, addr: "127.0.0.1:9"}
			var ids atomic.Uint64
			ids.Store(tt.start)
			p, err := uniquePayloads(s, []request{{check: tt.check}}, &ids)
			if err != nil {
				t.Fatalf("uniquePayloads() error = %v", err)
			}
			sent := sendConcurrently(p, 4, 50)
			seen := map[string]bool{}
			for _, req := range sent {
				id := checkStamped(t, req, p.wire[0], p.idAt[0], tt.wrap, tt.check)
				if seen[id] {
					t.Errorf("resource id %s sent twice", id)
				}
				seen[id] = true
			}
			if got, want := ids.Load(), tt.start+uint64(len(sent)); got != want {
				t.Errorf("counter = %d after %d requests from %d, want %d", got, len(sent), tt.start, want)
			}
		})
	}
}

// sendConcurrently takes n requests from each of workers feeds at once
// and returns copies of what they would send.
func sendConcurrently(p payloads, workers, n int) [][]byte {
	var mu sync.Mutex
	var out [][]byte
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			f := p.feed()
			for range n {
				req := bytes.Clone(f.request(0))
				mu.Lock()
				out = append(out, req)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// checkStamped checks that req is template with only the id's digits
// changed, that it is a well-formed HTTP request whose JSON body is the
// check with that id, and returns the id.
func checkStamped(t *testing.T, req, template []byte, idAt int, wrapped bool, want checkBody) string {
	t.Helper()
	if len(req) != len(template) || !bytes.Equal(req[:idAt], template[:idAt]) ||
		!bytes.Equal(req[idAt+idDigits:], template[idAt+idDigits:]) {
		t.Fatalf("request differs from its template outside the id:\n%s\n%s", req, template)
	}
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
	if err != nil {
		t.Fatalf("ReadRequest() error = %v\n%s", err, req)
	}
	body, err := io.ReadAll(hr.Body)
	if err != nil || int64(len(body)) != hr.ContentLength {
		t.Fatalf("body of %d bytes (%v), Content-Length %d", len(body), err, hr.ContentLength)
	}
	var got checkBody
	if wrapped {
		var doc struct {
			Input checkBody `json:"input"`
		}
		err = json.Unmarshal(body, &doc)
		got = doc.Input
	} else {
		err = json.Unmarshal(body, &got)
	}
	if err != nil {
		t.Fatalf("body is not the check: %v\n%s", err, body)
	}
	if id := "u" + string(req[idAt:idAt+idDigits]); got.Resource.ID != id {
		t.Errorf("resource id = %q, want the digits at the offset, %q", got.Resource.ID, id)
	}
	if strings.Trim(got.Resource.ID[1:], "0123456789") != "" || got.Resource.ID == idPlaceholder {
		t.Errorf("resource id %q is not a stamped number", got.Resource.ID)
	}
	want.Resource.ID = got.Resource.ID
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("check changed beyond its id (-want +got):\n%s", diff)
	}
	return got.Resource.ID
}

func TestRepeatPayloadsSendTheCorpusIDs(t *testing.T) {
	s := &server{serverSpec: serverSpec{checkPath: "/v1/check"}, addr: "127.0.0.1:9"}
	check := checkBody{Token: "t", Action: "tasks:read", Resource: resource{ID: "r_17", OrgID: "org_0001"}}
	p, err := repeatPayloads(s, []request{{check: check}})
	if err != nil {
		t.Fatalf("repeatPayloads() error = %v", err)
	}
	f := p.feed()
	for range 3 {
		if req := f.request(0); !bytes.Equal(req, p.wire[0]) || !bytes.Contains(req, []byte(`"id":"r_17"`)) {
			t.Fatalf("repeat request = %s, want the corpus request as serialized", req)
		}
	}
}

func TestPlaceholderOffset(t *testing.T) {
	tests := []struct {
		name    string
		wire    string
		want    int
		wantErr bool
	}{
		{"one", `{"resource":{"id":"u0000000000000000"}}`, len(`{"resource":{"id":"u`), false},
		{"none", `{"resource":{"id":"r_1"}}`, 0, true},
		{"escaped inside a string", `{"action":"\"id\":\"u0000000000000000\""}`, 0, true},
		{"twice", `{"id":"u0000000000000000","id":"u0000000000000000"}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := placeholderOffset([]byte(tt.wire))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("placeholderOffset() = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPutDigits(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0000000000000000"},
		{1, "0000000000000001"},
		{1234567890, "0000001234567890"},
		{9_999_999_999_999_999, "9999999999999999"},
	}
	for _, tt := range tests {
		dst := make([]byte, idDigits)
		putDigits(dst, tt.n)
		if string(dst) != tt.want {
			t.Errorf("putDigits(%d) = %s, want %s", tt.n, dst, tt.want)
		}
	}
}
