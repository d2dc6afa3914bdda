package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Requests that ask several decisions of shared parts (an evaluations
// request's defaults, the actions of /v1/allowed-actions) repeat those
// parts in every decision: each is converted into the policies' input and
// written to the decision log once per decision. So that a body within
// the limit cannot ask for a hundred times its size in work and log, what
// the decisions repeat beyond the first is bounded by the body limit too.

// repeatedTooMuch is a 413 for a request whose decisions would repeat
// bytes beyond the body limit.
func repeatedTooMuch(bytes, limit int64) *Error {
	return &Error{
		Status: http.StatusRequestEntityTooLarge,
		Code:   codePayloadTooLarge,
		Message: fmt.Sprintf("the decisions of this request would repeat %d bytes of its shared subject, resource and context, "+
			"over the %d bytes a request may ask for: share less, or ask fewer decisions", bytes, limit),
	}
}

// encodedSize is the size of v's JSON encoding; 0 for nil. v came from a
// request body, so it encodes.
func encodedSize(v any) int64 {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return 0
	}
	return int64(len(b))
}

// checkRepeats refuses a request whose shared parts, of size in all, its
// decisions would repeat times times.
func (s *server) checkRepeats(times int, size int64) error {
	return s.checkRepeated(int64(max(times, 0)) * size)
}

// checkRepeated refuses a request whose decisions would repeat more than
// the body limit.
func (s *server) checkRepeated(bytes int64) error {
	if bytes > s.limits.MaxBodyBytes {
		return repeatedTooMuch(bytes, s.limits.MaxBodyBytes)
	}
	return nil
}
