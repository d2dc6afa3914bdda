package main

import (
	"io"
	"log/slog"
)

// newJSONLogger returns serve's log: JSON lines on w, durations written
// as people read them ("1.5s", "312µs"), not as integer nanoseconds.
func newJSONLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: readableDurations}))
}

func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
