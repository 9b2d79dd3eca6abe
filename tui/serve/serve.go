// Package serve runs usersync's terminal interface over SSH: each
// connection gets its own Users app, on its own pseudo-terminal, sized to its
// terminal and coloured for its background, and acting as the name its key
// carries. It is built on charm.land/wish/v2 and its Bubble Tea middleware.
//
// Only public keys listed in an authorized-keys file get in; password and
// keyboard-interactive authentication are refused. The store is shared by
// every session (the host opens it once); bbolt serializes writes batch by
// batch, so no session blocks another for longer than a write batch.
//
// It is not a general SSH server: no shell, no exec, no port forwarding.
package serve

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"github.com/usersync/usersync/tui"
	"github.com/usersync/usersync/tui/visible"
)

// Options configure a Server.
type Options struct {
	// Listen is the address to listen on, e.g. 127.0.0.1:2222.
	Listen string
	// HostKey is the path of the server's private host key (OpenSSH PEM).
	// It is created (ed25519, mode 0600) when missing.
	HostKey string
	// AuthorizedKeys is the path of the authorized-keys file (see Keys).
	// It is read again on every sign-in, so edits apply to new sessions.
	AuthorizedKeys string
	// IdleTimeout ends a session after this long without input or output;
	// zero means 30 minutes.
	IdleTimeout time.Duration
	// MaxSessions is the most sessions open at once; the next one is told
	// why and disconnected. Zero means 10.
	MaxSessions int
	// App is the app's configuration for one session: the host fills
	// Store, Sources and the openers; Actor and ReadOnly are set from the
	// session's key.
	App tui.Config
	// Logger logs connections (who, from where) and refusals; nil logs to
	// standard error. Secrets never reach it.
	Logger *log.Logger
}

// Server is a running SSH server.
type Server struct {
	opts     Options
	srv      *ssh.Server
	ln       net.Listener
	sessions atomic.Int64
	log      *log.Logger

	mu   sync.Mutex
	keys *Keys // the last authorized-keys file read without error
}

type ctxKey struct{}

// Start validates the options, creates the host key if it is missing,
// reads the authorized-keys file and starts listening. Serving runs in the
// background until Close.
func Start(opts Options) (*Server, error) {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = 10
	}
	if opts.MaxSessions < 0 || opts.IdleTimeout < 0 {
		return nil, errors.New("serve: the idle timeout and the session limit must be positive")
	}
	if opts.App.Store == nil {
		return nil, errors.New("serve: no store")
	}
	s := &Server{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = log.NewWithOptions(os.Stderr, log.Options{ReportTimestamp: true, Prefix: "usersync serve"})
	}
	keys, err := ReadKeys(opts.AuthorizedKeys)
	if err != nil {
		return nil, err
	}
	s.keys = keys
	if err := ensureHostKey(opts.HostKey); err != nil {
		return nil, err
	}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(opts.HostKey),
		wish.WithPublicKeyAuth(s.authorize),
		wish.WithIdleTimeout(opts.IdleTimeout),
		wish.WithMiddleware(
			bubbletea.MiddlewareWithProgramHandler(s.program),
			s.limit,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s.srv = srv
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("serve: listen on %s: %w (is another server using the port?)", opts.Listen, err)
	}
	s.ln = ln
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			s.log.Error("serving stopped", "err", err)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String(), "keys", keys.Len())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening and ends every session (their running imports are
// interrupted between batches).
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops listening and waits for the sessions to end, or ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// authorize accepts a public key listed in the authorized-keys file, and
// remembers who it is for the session.
func (s *Server) authorize(ctx ssh.Context, key ssh.PublicKey) bool {
	keys, err := ReadKeys(s.opts.AuthorizedKeys)
	s.mu.Lock()
	if err != nil {
		s.log.Error("authorized keys unreadable; using the last good file", "err", err)
		keys = s.keys
	} else {
		s.keys = keys
	}
	s.mu.Unlock()
	id, ok := keys.Lookup(key)
	if !ok {
		s.log.Warn("refused key", "user", visible.String(ctx.User()), "from", ctx.RemoteAddr().String(),
			"fingerprint", gossh.FingerprintSHA256(key))
		return false
	}
	ctx.SetValue(ctxKey{}, id)
	return true
}

// limit refuses sessions over the limit, with the reason, before the app
// starts. It runs before the Bubble Tea middleware.
func (s *Server) limit(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		n := s.sessions.Add(1)
		defer s.sessions.Add(-1)
		id, _ := sess.Context().Value(ctxKey{}).(Identity)
		if n > int64(s.opts.MaxSessions) {
			s.log.Warn("refused session: too many", "as", id.Name, "from", sess.RemoteAddr().String())
			wish.Fatalf(sess, "usersync: %d sessions are open, the most this server allows; try again later.\n", s.opts.MaxSessions)
			return
		}
		if _, _, ok := sess.Pty(); !ok {
			wish.Fatalln(sess, "usersync: this server runs an interactive app; connect with a terminal (ssh -t).")
			return
		}
		s.log.Info("session", "as", id.Name, "read-only", id.ReadOnly, "from", sess.RemoteAddr().String())
		start := time.Now()
		next(sess)
		s.log.Info("session ended", "as", id.Name, "after", time.Since(start).Round(time.Second))
	}
}

// program makes the Users app of one session.
func (s *Server) program(sess ssh.Session) *tea.Program {
	id, _ := sess.Context().Value(ctxKey{}).(Identity)
	cfg := s.opts.App
	cfg.Actor = id.Name
	cfg.ReadOnly = cfg.ReadOnly || id.ReadOnly
	p, done := tui.Program(sess.Context(), cfg, tui.StartUsers, bubbletea.MakeOptions(sess)...)
	go func() {
		// The session ends (quit, disconnect, idle timeout): cancel what
		// its screens still run.
		<-sess.Context().Done()
		done()
	}()
	return p
}

// ensureHostKey creates an ed25519 host key at path, mode 0600, when there
// is none.
func ensureHostKey(path string) error {
	if path == "" {
		return errors.New("serve: --host-key is required (created when missing)")
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("serve: host key %s: %w", path, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := gossh.MarshalPrivateKey(priv, "usersync host key")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("serve: host key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("serve: create host key: %w", err)
	}
	if err := pem.Encode(f, block); err != nil {
		f.Close()
		return fmt.Errorf("serve: write host key: %w", err)
	}
	return f.Close()
}
