// Package slapdtest runs a throwaway OpenLDAP slapd for tests: configured
// from a temp directory (cn=config, an mdb database, the memberof and
// refint overlays, optionally syncprov for RFC 4533 change feeds), bulk-loaded with slapadd from content built in Go,
// listening on 127.0.0.1 (and optionally with StartTLS and ldaps from a
// throwaway CA), and stopped when the test ends.
//
// It is for tests only — this package's, other packages', and the TUI's
// end-to-end tests. When slapd is not installed, Start skips the test, or
// fails it when the environment variable CI is set: CI never skips
// silently. On Debian: apt-get install slapd ldap-utils.
package slapdtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap"
)

// The defaults every server has.
const (
	// DefaultSuffix is the suffix when Options.Suffix and Data leave it
	// unset.
	DefaultSuffix = "dc=example,dc=com"
	// RootPassword is the rootdn's password (cn=admin,<suffix>). The rootdn
	// is exempt from size and time limits.
	RootPassword = "root-secret"
	// ServicePassword is the password of the service account
	// cn=usersync,<suffix>, an ordinary account: limits apply to it.
	ServicePassword = "usersync-secret"

	serviceCN = "usersync"
)

// Options configure a server. The zero value is a plain-LDAP server with
// the default suffix and no users.
type Options struct {
	// Data is loaded with slapadd before slapd starts; nil loads only the
	// suffix, ou=people, ou=groups and the service account.
	Data *Data
	// TLS adds StartTLS on URL and an ldaps listener on LDAPSURL, with a
	// certificate for 127.0.0.1 and localhost from a throwaway CA (CAFile).
	TLS bool
	// SizeLimit and TimeLimit (seconds) limit searches by non-root binds;
	// 0 means unlimited.
	SizeLimit int
	TimeLimit int
	// NoMemberOf leaves out the memberof overlay (and refint).
	NoMemberOf bool
	// SyncProv, when not nil, adds the syncprov overlay: RFC 4533 content
	// synchronization (the change feed) on the database.
	SyncProv *SyncProv
}

// SyncProv configures the syncprov overlay. The zero value has no
// session log: a refresh from a cookie then answers with a present phase
// (the IDs of every unchanged entry) instead of deletions.
type SyncProv struct {
	// SessionLog is olcSpSessionlog: how many write operations syncprov
	// remembers, so that a refresh from a cookie within them sends the
	// deleted IDs rather than a present phase. 0: no session log.
	SessionLog int
	// ReloadHint is olcSpReloadHint: a cookie older than every entry of
	// the database (or from another server) is answered with
	// e-syncRefreshRequired instead of a full reload.
	ReloadHint bool
}

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS there when TLS is on).
	URL string
	// LDAPSURL is ldaps://127.0.0.1:PORT2, when TLS is on.
	LDAPSURL string
	// Addr is URL's host:port.
	Addr string
	// Suffix is the database's suffix.
	Suffix string
	// RootDN and RootPassword bind as the database's root (no limits).
	RootDN, RootPassword string
	// BindDN and BindPassword bind as the service account (limits apply).
	BindDN, BindPassword string
	// CAFile is the PEM file of the CA that issued the server's
	// certificate, when TLS is on.
	CAFile string
	// CA issued the server's certificate, when TLS is on.
	CA *CA
	// Dir holds the configuration, database and log.
	Dir string

	cmd       *exec.Cmd
	exited    chan struct{}
	stopOnce  sync.Once
	removeDir bool
	log       *bytes.Buffer
	logMu     *sync.Mutex
}

// Paths of the slapd installation, looked up once.
type install struct {
	slapd, slapadd string
	modules        string
	schema         string
}

var (
	installOnce sync.Once
	installed   install
	installErr  error
)

func findInstall() (install, error) {
	installOnce.Do(func() {
		find := func(name string) string {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
			for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec"} {
				p := filepath.Join(dir, name)
				if _, err := os.Stat(p); err == nil {
					return p
				}
			}
			return ""
		}
		firstDir := func(dirs []string, file string) string {
			for _, d := range dirs {
				if _, err := os.Stat(filepath.Join(d, file)); err == nil {
					return d
				}
			}
			return ""
		}
		installed = install{
			slapd:   find("slapd"),
			slapadd: find("slapadd"),
			modules: firstDir([]string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap"}, "back_mdb.so"),
			schema:  firstDir([]string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"}, "inetorgperson.ldif"),
		}
		var missing []string
		if installed.slapd == "" {
			missing = append(missing, "slapd")
		}
		if installed.slapadd == "" {
			missing = append(missing, "slapadd")
		}
		if installed.modules == "" {
			missing = append(missing, "the back_mdb module")
		}
		if installed.schema == "" {
			missing = append(missing, "the schema LDIF files")
		}
		if len(missing) > 0 {
			installErr = fmt.Errorf("OpenLDAP is not installed (%s not found); on Debian: apt-get install slapd ldap-utils", strings.Join(missing, ", "))
		}
	})
	return installed, installErr
}

// Available reports whether slapd can be run here.
func Available() error {
	_, err := findInstall()
	return err
}

// Require skips the test when slapd is not installed — or fails it when
// the environment variable CI is set, so CI never skips silently.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("slapdtest: %v (CI is set: not skipping)", err)
		}
		t.Skipf("slapdtest: %v", err)
	}
}

// Start configures, loads and starts a slapd for the test and stops it
// when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	s, err := launch(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch is Start for code without a testing.TB (a TestMain sharing one
// server between tests and benchmarks): the caller must call Stop, which
// also removes the server's directory.
func Launch(opts Options) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "slapdtest-")
	if err != nil {
		return nil, err
	}
	s, err := launch(dir, opts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s.removeDir = true
	return s, nil
}

func launch(dir string, opts Options) (*Server, error) {
	inst, err := findInstall()
	if err != nil {
		return nil, err
	}
	data := opts.Data
	if data == nil {
		data = NewData(DefaultSuffix)
	}
	s := &Server{
		Suffix:       data.suffix,
		RootDN:       "cn=admin," + data.suffix,
		RootPassword: RootPassword,
		BindDN:       "cn=" + serviceCN + "," + data.suffix,
		BindPassword: ServicePassword,
		Dir:          dir,
		log:          new(bytes.Buffer),
		logMu:        new(sync.Mutex),
	}
	if opts.TLS {
		if err := s.makeTLS(); err != nil {
			return nil, fmt.Errorf("TLS material: %w", err)
		}
	}
	for _, sub := range []string{"slapd.d", "db"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	cfgPath := filepath.Join(s.Dir, "config.ldif")
	if err := os.WriteFile(cfgPath, []byte(s.configLDIF(inst, opts)), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(inst.slapadd, "-n", "0", "-F", filepath.Join(s.Dir, "slapd.d"), "-l", cfgPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slapadd -n 0: %v\n%s", err, out)
	}
	dataPath := filepath.Join(s.Dir, "data.ldif")
	f, err := os.Create(dataPath)
	if err != nil {
		return nil, err
	}
	err = data.writeLDIF(f, !opts.NoMemberOf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	args := []string{"-q", "-F", filepath.Join(s.Dir, "slapd.d"), "-b", s.Suffix, "-l", dataPath}
	if opts.SyncProv != nil {
		args = append(args, "-w") // contextCSN: the greatest entryCSN loaded
	}
	if out, err := exec.Command(inst.slapadd, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slapadd -q: %v\n%s", err, out)
	}
	_ = os.Remove(dataPath)

	var lastErr error
	for range 3 { // a free port may be taken between the check and slapd's bind
		if lastErr = s.start(inst, opts.TLS); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *Server) makeTLS() error {
	ca, err := NewCA("usersync slapdtest CA")
	if err != nil {
		return err
	}
	cert, key, err := ca.Issue("127.0.0.1", "localhost", "::1")
	if err != nil {
		return err
	}
	tlsDir := filepath.Join(s.Dir, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return err
	}
	s.CA = ca
	s.CAFile = filepath.Join(tlsDir, "ca.pem")
	for name, b := range map[string][]byte{"ca.pem": ca.PEM, "server.pem": cert, "server.key": key} {
		if err := os.WriteFile(filepath.Join(tlsDir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) configLDIF(inst install, opts Options) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("dn: cn=config")
	w("objectClass: olcGlobal")
	w("cn: config")
	w("olcPidFile: %s", filepath.Join(s.Dir, "slapd.pid"))
	w("olcArgsFile: %s", filepath.Join(s.Dir, "slapd.args"))
	if opts.TLS {
		w("olcTLSCACertificateFile: %s", filepath.Join(s.Dir, "tls", "ca.pem"))
		w("olcTLSCertificateFile: %s", filepath.Join(s.Dir, "tls", "server.pem"))
		w("olcTLSCertificateKeyFile: %s", filepath.Join(s.Dir, "tls", "server.key"))
	}
	w("")
	w("dn: cn=module{0},cn=config")
	w("objectClass: olcModuleList")
	w("cn: module{0}")
	w("olcModulePath: %s", inst.modules)
	w("olcModuleLoad: back_mdb")
	if !opts.NoMemberOf {
		w("olcModuleLoad: memberof")
		w("olcModuleLoad: refint")
	}
	if opts.SyncProv != nil {
		w("olcModuleLoad: syncprov")
	}
	w("")
	w("dn: cn=schema,cn=config")
	w("objectClass: olcSchemaConfig")
	w("cn: schema")
	w("")
	for _, name := range []string{"core", "cosine", "nis", "inetorgperson"} {
		w("include: file://%s", filepath.Join(inst.schema, name+".ldif"))
		w("")
	}
	limit := func(n int) string {
		if n <= 0 {
			return "unlimited"
		}
		return fmt.Sprint(n)
	}
	w("dn: olcDatabase={-1}frontend,cn=config")
	w("objectClass: olcDatabaseConfig")
	w("objectClass: olcFrontendConfig")
	w("olcDatabase: {-1}frontend")
	w("olcSizeLimit: %s", limit(opts.SizeLimit))
	w("olcTimeLimit: %s", limit(opts.TimeLimit))
	w("")
	w("dn: olcDatabase={0}config,cn=config")
	w("objectClass: olcDatabaseConfig")
	w("olcDatabase: {0}config")
	w("olcRootDN: cn=admin,cn=config")
	w("")
	w("dn: olcDatabase={1}mdb,cn=config")
	w("objectClass: olcDatabaseConfig")
	w("objectClass: olcMdbConfig")
	w("olcDatabase: {1}mdb")
	w("olcSuffix: %s", s.Suffix)
	w("olcRootDN: %s", s.RootDN)
	w("olcRootPW: %s", s.RootPassword)
	w("olcDbDirectory: %s", filepath.Join(s.Dir, "db"))
	w("olcDbMaxSize: 8589934592")
	w("olcDbNoSync: TRUE")
	w("olcSizeLimit: %s", limit(opts.SizeLimit))
	w("olcTimeLimit: %s", limit(opts.TimeLimit))
	for _, idx := range []string{"objectClass eq", "entryUUID eq", "uid eq,sub", "cn eq,sub", "mail eq,sub", "member eq", "uniqueMember eq", "memberUid eq"} {
		w("olcDbIndex: %s", idx)
	}
	if opts.SyncProv != nil {
		w("olcDbIndex: entryCSN eq")
	}
	if !opts.NoMemberOf {
		w("olcDbIndex: memberOf eq")
	}
	overlay := 0
	begin := func(name string, classes ...string) {
		w("")
		w("dn: olcOverlay={%d}%s,olcDatabase={1}mdb,cn=config", overlay, name)
		w("objectClass: olcOverlayConfig")
		for _, c := range classes {
			w("objectClass: %s", c)
		}
		w("olcOverlay: {%d}%s", overlay, name)
		overlay++
	}
	syncprov := func() {
		sp := opts.SyncProv
		begin("syncprov", "olcSyncProvConfig")
		w("olcSpCheckpoint: 100 1")
		if sp.SessionLog > 0 {
			w("olcSpSessionlog: %d", sp.SessionLog)
		}
		if sp.ReloadHint {
			w("olcSpReloadHint: TRUE")
		}
	}
	if !opts.NoMemberOf {
		begin("memberof", "olcMemberOf")
		w("olcMemberOfRefInt: TRUE")
		begin("refint", "olcRefintConfig")
		w("olcRefintAttribute: member")
		w("olcRefintAttribute: uniqueMember")
	}
	// syncprov last: overlays run in reverse order of configuration, so
	// it sees every write first. (refint's and memberof's own changes to
	// other entries bypass it either way: see the package tests.)
	if opts.SyncProv != nil {
		syncprov()
	}
	w("")
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logWriter collects slapd's output for failure messages.
type logWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 1<<20 {
		w.buf.Write(p)
	}
	return len(p), nil
}

// Log is what slapd wrote to its standard error so far.
func (s *Server) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

func (s *Server) start(inst install, withTLS bool) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "ldap://" + s.Addr
	urls := s.URL + "/"
	if withTLS {
		port2, err := freePort()
		if err != nil {
			return err
		}
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", port2)
		urls += " " + s.LDAPSURL + "/"
	}
	s.logMu.Lock()
	s.log.Reset()
	s.logMu.Unlock()
	cmd := exec.Command(inst.slapd, "-h", urls, "-F", filepath.Join(s.Dir, "slapd.d"), "-d", "0")
	cmd.Stdout = logWriter{s.logMu, s.log}
	cmd.Stderr = logWriter{s.logMu, s.log}
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("slapd exited at start (%v):\n%s", cmd.ProcessState, s.Log())
		default:
		}
		if err := s.ping(); err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		} else if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("slapd did not answer on %s within 15s: %v\n%s", s.URL, err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping reads the root DSE anonymously.
func (s *Server) ping() error {
	conn, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetTimeout(2 * time.Second)
	_, err = conn.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"namingContexts"}, nil))
	return err
}

// Stop ends slapd (SIGTERM, then SIGKILL after 5 s) and waits for it; a
// server from Launch also loses its directory. A paused server is resumed
// first, so that it can end cleanly. Start registers Stop with t.Cleanup;
// calling it earlier, or twice, is fine.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.Resume()
			_ = s.cmd.Process.Signal(terminate)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	})
	if s.removeDir {
		_ = os.RemoveAll(s.Dir)
	}
}

// Kill ends slapd at once with SIGKILL, as a crash would, and waits for
// it: for tests of reads cut short.
func (s *Server) Kill() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

// PID is slapd's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Pause freezes slapd with SIGSTOP, as a hung server or a stalled network
// would look to a client: connections stay open, nothing answers. Resume
// (or Stop) thaws it; call it in t.Cleanup. On Linux, Pause returns once
// every slapd thread is stopped, Resume once none is. Pause fails where
// there is no SIGSTOP (Windows).
func (s *Server) Pause() error { return s.signal(pauseSignal, "pause") }

// Resume thaws a server Pause froze (SIGCONT); on a running server it does
// nothing.
func (s *Server) Resume() error { return s.signal(resumeSignal, "resume") }

func (s *Server) signal(sig os.Signal, what string) error {
	if sig == nil {
		return fmt.Errorf("slapdtest: cannot %s slapd on this system", what)
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return fmt.Errorf("slapdtest: cannot %s slapd: it is not running", what)
	}
	select {
	case <-s.exited:
		return fmt.Errorf("slapdtest: cannot %s slapd: it has exited", what)
	default:
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("slapdtest: %s slapd: %w", what, err)
	}
	if err := settled(s.cmd.Process.Pid, sig == pauseSignal); err != nil {
		return fmt.Errorf("slapdtest: %s slapd: %w", what, err)
	}
	return nil
}

// Config is an ldap.Config for this server, binding as the service
// account: StartTLS with CAFile when TLS is on, plain LDAP with
// allow_insecure otherwise.
func (s *Server) Config() ldap.Config {
	cfg := ldap.Config{
		Name:     "slapd",
		URL:      s.URL,
		BaseDN:   s.Suffix,
		BindDN:   s.BindDN,
		Password: s.BindPassword,
		Flavor:   ldap.FlavorOpenLDAP,
		Timeout:  ldap.Duration{Duration: 10 * time.Second},
	}
	if s.CAFile != "" {
		cfg.StartTLS = true
		cfg.CAFile = s.CAFile
	} else {
		cfg.AllowInsecure = true
	}
	return cfg
}

// Conn is a connection bound as the root DN, for tests that change
// entries online (the memberof overlay keeps memberOf then). It is closed
// when the test ends.
func (s *Server) Conn(t testing.TB) *goldap.Conn {
	t.Helper()
	conn, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("slapdtest: dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(s.RootDN, s.RootPassword); err != nil {
		t.Fatalf("slapdtest: bind as %s: %v", s.RootDN, err)
	}
	return conn
}

// Add adds entries online as the root DN. attrs must not carry memberOf:
// the overlay maintains it.
func (s *Server) Add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	req := goldap.NewAddRequest(dn, nil)
	for _, name := range sortedKeys(attrs) {
		req.Attribute(name, attrs[name])
	}
	if err := s.Conn(t).Add(req); err != nil {
		t.Fatalf("slapdtest: add %s: %v", dn, err)
	}
}

// Modify applies changes to the entry dn online, as the root DN: fill
// the request (Replace, Add, Delete of attribute values) in change.
func (s *Server) Modify(t testing.TB, dn string, change func(*goldap.ModifyRequest)) {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	change(req)
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("slapdtest: modify %s: %v", dn, err)
	}
}

// Delete deletes the entry dn online, as the root DN (refint then removes
// it from the groups that list it).
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(goldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("slapdtest: delete %s: %v", dn, err)
	}
}
