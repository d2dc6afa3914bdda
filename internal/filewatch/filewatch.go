// Package filewatch follows files that change while a service runs (API
// keys, certificates, a policy bundle) by polling them. Polling, rather
// than file-system events, also sees the symlink swap Kubernetes uses to
// update a mounted Secret or ConfigMap, and costs a few small reads per
// interval.
package filewatch

import (
	"context"
	"crypto/sha256"
	"time"
)

// Sum identifies contents: a change is a different sum.
type Sum [sha256.Size]byte

// SumOf returns the sum of data.
func SumOf(data []byte) Sum { return sha256.Sum256(data) }

// Watcher says how to follow one set of files.
type Watcher struct {
	// Read returns the files' contents as they are now.
	Read func() ([]byte, error)
	// Changed is called with contents that differ from the last ones
	// handled, once two reads in a row agree on them (a file caught
	// half-written is never handled); it applies or refuses them.
	Changed func(data []byte)
	// Failed is called when Read fails, once per distinct error rather
	// than on every poll.
	Failed func(err error)
}

// Watch polls every interval until ctx ends. handled is the sum of the
// contents already in force, so that they are not handled again.
func (w Watcher) Watch(ctx context.Context, interval time.Duration, handled Sum) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var seen Sum
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := w.Read()
		if err != nil {
			if err.Error() != lastErr {
				lastErr = err.Error()
				w.Failed(err)
			}
			continue
		}
		lastErr = ""
		sum := SumOf(data)
		if sum != seen {
			seen = sum // changed since the last poll: let it settle
			continue
		}
		if sum == handled {
			continue
		}
		handled = sum
		w.Changed(data)
	}
}
