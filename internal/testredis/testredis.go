// Package testredis runs a redis-server of a test's own: a free port on
// 127.0.0.1, no persistence, a temporary directory, stopped when the test
// ends. It can be killed and started again on the same port. A test that
// cannot start one fails, saying to install Debian's redis-server.
package testredis

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a redis-server of one test's own: a free port on
// 127.0.0.1, no persistence, a temporary directory. It can be killed and
// started again on the same port.
type Server struct {
	port int
	dir  string
	// URL is redis://127.0.0.1:<port>.
	URL string

	cmd    *exec.Cmd
	exited chan struct{}
	output *lockedBuffer
}

// Start starts a redis-server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	var last error
	for range 3 { // another process may take the free port first
		s := New(t)
		if last = s.tryStart(); last == nil {
			return s
		}
	}
	t.Fatal(last)
	return nil
}

// New chooses a free port for a redis-server, not started yet; it is
// stopped when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: install Debian's redis-server package "+
			"(apt-get install redis-server; CI does it with .ci/install-tools): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s := &Server{port: port, dir: t.TempDir(), URL: fmt.Sprintf("redis://127.0.0.1:%d", port)}
	t.Cleanup(s.Kill)
	return s
}

// Start starts the server on its port: a server from New, or again after
// Kill.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.tryStart(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) tryStart() error {
	s.output = &lockedBuffer{}
	s.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning")
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server (install Debian's redis-server package; CI does it with .ci/install-tools): %w", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, s.output)
		default:
		}
		if s.pong() {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("redis-server on port %d did not answer PING within 10s:\n%s", s.port, s.output)
}

// pong reports whether the server answers PING.
func (s *Server) pong() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Kill stops the server at once, as a crash would; its data is lost.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// lockedBuffer collects a process's output, written and read from
// different goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
