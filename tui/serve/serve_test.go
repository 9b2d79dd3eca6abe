package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/log/v2"
	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/demo"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui"
)

// These tests connect with a real SSH client (golang.org/x/crypto/ssh, with
// a pty request) on loopback, to a server sharing one real store, with the
// demo's in-process LDAP server as dc01.

type lab struct {
	srv   *Server
	st    *store.Store
	dir   string
	alice gossh.Signer // may import
	viewr gossh.Signer // read-only
}

func newSigner(t *testing.T) (gossh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp)))
}

func startLab(t *testing.T, maxSessions int) *lab {
	t.Helper()
	l := &lab{dir: t.TempDir()}
	var alicePub, viewerPub string
	l.alice, alicePub = newSigner(t)
	l.viewr, viewerPub = newSigner(t)
	keys := filepath.Join(l.dir, "authorized_keys")
	content := fmt.Sprintf("# usersync keys\n%s alice@laptop\nusersync-user=\"helpdesk\",usersync-readonly %s viewer\n", alicePub, viewerPub)
	if err := os.WriteFile(keys, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(l.dir, "users.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l.st = st
	dc01, err := demo.StartLDAP(demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc01.Close() })
	cfg := ldap.Config{
		Name: "dc01", URL: dc01.URL(), StartTLS: dc01.StartTLS(), BaseDN: dc01.Suffix(),
		BindDN: dc01.BindDN(), Password: dc01.BindPassword(), CAFile: dc01.CAFile(),
		Flavor: ldap.FlavorOpenLDAP, Timeout: ldap.Duration{Duration: 10 * time.Second},
	}
	srv, err := Start(Options{
		Listen:         "127.0.0.1:0",
		HostKey:        filepath.Join(l.dir, "keys", "host_ed25519"),
		AuthorizedKeys: keys,
		MaxSessions:    maxSessions,
		App: tui.Config{
			Store:   st,
			Sources: []tui.Source{{Name: "dc01", Kind: directory.KindLDAP, URL: dc01.URL()}},
			Open: func(ctx context.Context, name, _ string) (directory.Directory, error) {
				return ldap.Open(ctx, cfg)
			},
		},
		Logger: log.New(io.Discard),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	l.srv = srv
	return l
}

// client is one SSH session with a pty, its screen output collected.
type client struct {
	t    *testing.T
	conn *gossh.Client
	sess *gossh.Session
	in   io.WriteCloser
	mu   sync.Mutex
	out  bytes.Buffer
}

func (l *lab) dial(signer gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", l.srv.Addr(), &gossh.ClientConfig{
		User:            "anyone",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
}

func (l *lab) connect(t *testing.T, signer gossh.Signer) *client {
	t.Helper()
	conn, err := l.dial(signer)
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, sess: sess}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{gossh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	if c.in, err = sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := sess.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	collect := func(r io.Reader) {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			c.mu.Lock()
			c.out.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
	go collect(stdout)
	go collect(stderr)
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return c
}

// text is everything the session printed so far, without escape sequences.
func (c *client) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ansi.Strip(c.out.String())
}

func (c *client) waitFor(want ...string) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := c.text()
		ok := true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the session did not show %q within 15s; it showed:\n%s", want, s)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// send types keys: text as it is, "\r" for Enter.
func (c *client) send(keys ...string) {
	c.t.Helper()
	for _, k := range keys {
		if _, err := io.WriteString(c.in, k); err != nil {
			c.t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func TestServe_AuthorizedKeyImportsAsItsName(t *testing.T) {
	l := startLab(t, 0)
	c := l.connect(t, l.alice)
	c.waitFor("All users")
	c.send("i")
	c.waitFor("Pick a directory", "dc01")
	c.send("\r")
	c.waitFor("Search by username or group name")
	c.send("andbal", "\r")
	c.waitFor("Select to import")
	c.send(" ")
	c.waitFor("1 selected")
	c.send("\r")
	c.waitFor("Enable users after import")
	c.send("\x1b[F") // End
	c.send("\r")
	c.waitFor("What will happen")
	c.send("\r")
	c.waitFor("completed")

	runs, err := l.st.ListRuns()
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %v, %v", runs, err)
	}
	if runs[0].Actor != "alice@laptop" {
		t.Errorf("the run's actor is %q, want the key's name alice@laptop", runs[0].Actor)
	}
	if u, err := l.st.GetUser("andbal"); err != nil || u.Source != "dc01" {
		t.Errorf("andbal after the import over SSH: %+v %v", u, err)
	}
}

func TestServe_ReadOnlyKeyCannotImport(t *testing.T) {
	l := startLab(t, 0)
	c := l.connect(t, l.viewr)
	c.waitFor("All users", "read-only")
	c.send("i")
	c.waitFor("Pick a directory")
	c.send("\r")
	c.waitFor("Search by username or group name")
	c.send("andbal", "\r")
	c.waitFor("Select to import")
	c.send(" ", "\r")
	c.waitFor("Enable users after import")
	c.send("\x1b[F", "\r")
	c.waitFor("What will happen")
	c.send("\r")
	c.waitFor("Read-only session: importing is not")
	if runs, _ := l.st.ListRuns(); len(runs) != 0 {
		t.Errorf("a read-only session wrote runs: %v", runs)
	}
	if _, err := l.st.GetUser("andbal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a read-only session imported andbal: %v", err)
	}
}

func TestServe_UnknownKeyAndPasswordAreRefused(t *testing.T) {
	l := startLab(t, 0)
	stranger, _ := newSigner(t)
	if conn, err := l.dial(stranger); err == nil {
		conn.Close()
		t.Error("a key not in authorized_keys got in")
	}
	conn, err := gossh.Dial("tcp", l.srv.Addr(), &gossh.ClientConfig{
		User: "alice",
		Auth: []gossh.AuthMethod{
			gossh.Password("hunter2"),
			gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"hunter2"}, nil }),
		},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
	if err == nil {
		conn.Close()
		t.Fatal("password authentication got in")
	}
	if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("password attempt: %v", err)
	}
}

func TestServe_TwoSessionsAtOnceAndTheLimit(t *testing.T) {
	l := startLab(t, 2)
	a := l.connect(t, l.alice)
	b := l.connect(t, l.viewr)
	a.waitFor("All users")
	b.waitFor("All users", "read-only")
	// Both answer keys at the same time.
	a.send("i")
	b.send("4")
	a.waitFor("Pick a directory")
	b.waitFor("MEMBERS")

	c := l.connect(t, l.alice)
	c.waitFor("2 sessions are open, the most this server allows")
}

func TestServe_HostKeyIsCreated0600(t *testing.T) {
	l := startLab(t, 0)
	fi, err := os.Stat(filepath.Join(l.dir, "keys", "host_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestParseKeys_BadLinesAreNamed(t *testing.T) {
	_, pub := newSigner(t)
	tests := []struct{ name, content, want string }{
		{"not a key", "# keys\n\nssh-ed25519 notbase64 x\n", "keys:3: not an OpenSSH public key"},
		{"no name", pub + "\n", "keys:1: the key has no name"},
		{"empty user option", `usersync-user="" ` + pub + " c\n", "keys:1: usersync-user needs a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys("keys", []byte(tt.content))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseKeys = %v, want %q", err, tt.want)
			}
		})
	}
	k, err := ParseKeys("keys", []byte(`usersync-user="bob",usersync-readonly,no-pty `+pub+" ignored@host\n"))
	if err != nil || k.Len() != 1 || k.entries[0].id != (Identity{Name: "bob", ReadOnly: true}) {
		t.Errorf("ParseKeys with options = %+v, %v", k, err)
	}
}
