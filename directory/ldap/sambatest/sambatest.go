// Package sambatest runs a throwaway Samba Active Directory domain
// controller for tests: provisioned in a temp directory with samba-tool
// (no DNS, no systemd), started in the foreground with only its LDAP
// service, and stopped when the tests end.
//
// Samba listens on the fixed LDAP ports (389, 636), so that two test
// packages never clash (nor with a directory running on the host) each
// DC runs in a network namespace of its own; a proxy on 127.0.0.1 and a
// free port carries LDAPS into it. The DC's certificate comes from a
// throwaway CA (CAFile), for 127.0.0.1 and localhost: TLS is verified.
// Active Directory refuses simple binds over plain LDAP, so only LDAPS is
// offered.
//
// Provisioning takes seconds: share one DC per test package (Shared, and
// StopShared in TestMain), and give each test its own organizational
// unit (NewOU) as its base DN. The DC has two service accounts: one
// granted "Replicating Directory Changes" (DS-Replication-Get-Changes) on
// the domain, which may use DirSync, and one ordinary account, which may
// not.
//
// It needs Linux, root (a network namespace) and Samba's AD DC (on
// Debian: apt-get install samba samba-ad-provision). Without them Require
// skips the test, or fails it when the environment variable CI is set.
package sambatest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// The domain every DC provisions.
const (
	// Realm is the DNS name of the domain.
	Realm = "SAMDOM.EXAMPLE.COM"
	// BaseDN is the domain's naming context.
	BaseDN = "DC=samdom,DC=example,DC=com"
	// AdminPassword is the password of CN=Administrator,CN=Users.
	AdminPassword = "Admin-Secret-1"
	// ServicePassword is the password of both service accounts and of the
	// users AddUser makes.
	ServicePassword = "Usersync-Secret-1"

	domain = "SAMDOM"
)

// Server is a running Samba AD DC.
type Server struct {
	// URL is ldaps://127.0.0.1:PORT, the proxy into the DC's namespace.
	URL string
	// CAFile is the PEM file of the CA that issued the DC's certificate.
	CAFile string
	// BaseDN is the domain's naming context (BaseDN).
	BaseDN string
	// AdminDN binds as the domain's Administrator.
	AdminDN string
	// DirSyncDN is a service account granted "Replicating Directory
	// Changes" on the domain: it may use DirSync.
	DirSyncDN string
	// PlainDN is an ordinary account: DirSync refuses it.
	PlainDN string
	// Dir holds the provisioned domain, the TLS material and the log.
	Dir string

	ns       *netns
	cmd      *exec.Cmd
	exited   chan struct{}
	proxy    net.Listener
	log      *syncBuffer
	stopOnce sync.Once
	ous      atomic.Int64
}

// Paths of the Samba installation, looked up once.
var (
	installOnce sync.Once
	samba       string
	sambaTool   string
	installErr  error
)

func findInstall() error {
	installOnce.Do(func() {
		find := func(name string) string {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
			for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/samba/sbin", "/usr/local/samba/bin"} {
				if p := filepath.Join(dir, name); fileExists(p) {
					return p
				}
			}
			return ""
		}
		samba, sambaTool = find("samba"), find("samba-tool")
		switch {
		case samba == "" || sambaTool == "":
			installErr = errors.New("Samba's AD DC is not installed (samba or samba-tool not found); on Debian: apt-get install samba samba-ad-provision")
		case !fileExists("/usr/share/samba/setup/ad-schema") && !fileExists("/usr/local/samba/share/setup/ad-schema"):
			installErr = errors.New("Samba's AD schema files are not installed; on Debian: apt-get install samba-ad-provision")
		default:
			if err := netnsAvailable(); err != nil {
				installErr = &hostError{err}
			}
		}
	})
	return installErr
}

// hostError is a host that cannot run a DC (not root, no network
// namespaces in this container): not something `make deps` can install.
type hostError struct{ error }

func (e *hostError) Unwrap() error { return e.error }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Available reports whether a Samba AD DC can be run here.
func Available() error { return findInstall() }

// Require skips the test when a Samba AD DC cannot be run here — or fails
// it when the environment variable CI is set and Samba is not installed
// (`make deps` installs it), so CI never skips for want of a package. A
// host that cannot run a DC at all (not root, no network namespaces) is
// skipped with the reason, in CI too.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		var host *hostError
		if os.Getenv("CI") != "" && !errors.As(err, &host) {
			t.Fatalf("sambatest: %v (CI is set: not skipping)", err)
		}
		t.Skipf("sambatest: %v", err)
	}
}

var shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Shared is the test package's DC, launched by the first test that asks
// for it. Call StopShared from TestMain after m.Run.
func Shared(t testing.TB) *Server {
	t.Helper()
	Require(t)
	shared.once.Do(func() {
		start := time.Now()
		shared.s, shared.err = Launch()
		if shared.err == nil {
			t.Logf("sambatest: provisioned and started a Samba AD DC in %s", time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatalf("sambatest: %v", shared.err)
	}
	return shared.s
}

// StopShared stops the DC Shared launched, if any.
func StopShared() {
	if shared.s != nil {
		shared.s.Stop()
	}
}

// Launch provisions and starts a DC. The caller must call Stop, which
// also removes its directory.
func Launch() (*Server, error) {
	if err := findInstall(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sambatest-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		BaseDN:    BaseDN,
		AdminDN:   "CN=Administrator,CN=Users," + BaseDN,
		DirSyncDN: "CN=svc-dirsync,CN=Users," + BaseDN,
		PlainDN:   "CN=svc-plain,CN=Users," + BaseDN,
		Dir:       dir,
		log:       &syncBuffer{},
	}
	if err := s.launch(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) launch() error {
	tlsDir := filepath.Join(s.Dir, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return err
	}
	ca, err := slapdtest.NewCA("usersync sambatest CA")
	if err != nil {
		return err
	}
	cert, key, err := ca.Issue("127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	s.CAFile = filepath.Join(tlsDir, "ca.pem")
	for name, b := range map[string][]byte{"ca.pem": ca.PEM, "cert.pem": cert, "key.pem": key} {
		if err := os.WriteFile(filepath.Join(tlsDir, name), b, 0o600); err != nil {
			return err
		}
	}

	target := filepath.Join(s.Dir, "dc")
	args := []string{"domain", "provision", "--targetdir=" + target,
		"--realm=" + Realm, "--domain=" + domain, "--server-role=dc",
		"--dns-backend=NONE", "--host-ip=127.0.0.1", "--adminpass=" + AdminPassword,
		"--option=interfaces = 127.0.0.1", "--option=bind interfaces only = yes",
		// Only the LDAP server: no SMB, Kerberos, RPC or NetBIOS ports.
		"--option=server services = ldap",
		"--option=tls enabled = yes",
		"--option=tls keyfile = " + filepath.Join(tlsDir, "key.pem"),
		"--option=tls certfile = " + filepath.Join(tlsDir, "cert.pem"),
		"--option=tls cafile = " + s.CAFile,
		"--option=log file = " + filepath.Join(s.Dir, "samba.log"),
		// Not /run/samba: DCs of two test packages run side by side.
		"--option=pid directory = " + s.Dir,
	}
	if out, err := exec.Command(sambaTool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("samba-tool domain provision: %v\n%s", err, tail(out))
	}
	conf := filepath.Join(target, "etc", "smb.conf")

	s.ns, err = newNetns()
	if err != nil {
		return err
	}
	s.cmd = exec.Command(samba, "-i", "-M", "single", "-s", conf)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.ns.start(s.cmd); err != nil {
		return fmt.Errorf("start samba: %w", err)
	}
	s.exited = make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()

	s.proxy, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.URL = "ldaps://" + s.proxy.Addr().String()
	go s.serveProxy()

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("samba exited at start (%v):\n%s", s.cmd.ProcessState, s.Log())
		default:
		}
		conn, err := s.dial(AdminDNFor(s.BaseDN), AdminPassword)
		if err == nil {
			err = s.setup(conn)
			conn.Close()
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("samba did not answer on %s within 30s: %v\n%s", s.URL, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AdminDNFor is the Administrator's DN in the domain base.
func AdminDNFor(base string) string { return "CN=Administrator,CN=Users," + base }

// setup makes the service accounts and grants one of them DirSync.
func (s *Server) setup(conn *goldap.Conn) error {
	for _, dn := range []string{s.DirSyncDN, s.PlainDN} {
		if err := addUser(conn, dn, "", ""); err != nil {
			return err
		}
	}
	// DS-Replication-Get-Changes on the domain: what DirSync without the
	// object-security flag requires.
	conf := filepath.Join(s.Dir, "dc", "etc", "smb.conf")
	out, err := exec.Command(sambaTool, "dsacl", "set", "-s", conf, "-H", filepath.Join(s.Dir, "dc", "private", "sam.ldb"),
		"--car=get-changes", "--action=allow", "--objectdn="+s.BaseDN, "--trusteedn="+s.DirSyncDN).CombinedOutput()
	if err != nil {
		return fmt.Errorf("samba-tool dsacl set: %v\n%s", err, tail(out))
	}
	// A tombstone, as every domain in use has: what tells the feed
	// whether the bind account sees deletions.
	tomb := "CN=usersync-tombstone,CN=Users," + s.BaseDN
	if err := addUser(conn, tomb, "", ""); err != nil {
		return err
	}
	if err := conn.Del(goldap.NewDelRequest(tomb, nil)); err != nil {
		return fmt.Errorf("delete %s: %w", tomb, err)
	}
	return nil
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// serveProxy carries every connection to the DC's LDAPS port.
func (s *Server) serveProxy() {
	for {
		c, err := s.proxy.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := s.ns.dial("127.0.0.1:636")
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(up, c)
			go pipe(c, up)
			<-done
			<-done
		}()
	}
}

// Stop ends samba (SIGTERM, then SIGKILL after 5 s), its proxy and its
// namespace, and removes its directory. Calling it twice is fine.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.proxy != nil {
			_ = s.proxy.Close()
		}
		if s.cmd != nil && s.cmd.Process != nil && s.exited != nil {
			_ = s.cmd.Process.Signal(terminate)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
		if s.ns != nil {
			s.ns.close()
		}
		_ = os.RemoveAll(s.Dir)
	})
}

// Log is what samba wrote to its standard output and error so far.
func (s *Server) Log() string { return s.log.String() }

// Config is an ldap.Config for this DC binding as bindDN (DirSyncDN,
// PlainDN, AdminDN or a user AddUser made) under base (a test's OU, or
// BaseDN): flavor active-directory, LDAPS verified with CAFile.
func (s *Server) Config(bindDN, base string) ldap.Config {
	pw := ServicePassword
	if strings.EqualFold(bindDN, s.AdminDN) {
		pw = AdminPassword
	}
	return ldap.Config{
		Name:     "dc01",
		URL:      s.URL,
		BaseDN:   base,
		BindDN:   bindDN,
		Password: pw,
		CAFile:   s.CAFile,
		Flavor:   ldap.FlavorActiveDirectory,
		Timeout:  ldap.Duration{Duration: 10 * time.Second},
	}
}

func (s *Server) dial(bindDN, password string) (*goldap.Conn, error) {
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := goldap.DialURL(s.URL, goldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}),
		goldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(10 * time.Second)
	if err := conn.Bind(bindDN, password); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Conn is a connection bound as the Administrator, closed when the test
// ends.
func (s *Server) Conn(t testing.TB) *goldap.Conn {
	t.Helper()
	conn, err := s.dial(s.AdminDN, AdminPassword)
	if err != nil {
		t.Fatalf("sambatest: bind as Administrator: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// NewOU makes an organizational unit of its own for the test, directly
// under the domain, and returns its DN.
func (s *Server) NewOU(t testing.TB, name string) string {
	t.Helper()
	dn := fmt.Sprintf("OU=%s%d,%s", name, s.ous.Add(1), s.BaseDN)
	s.Add(t, dn, map[string][]string{"objectClass": {"organizationalUnit"}})
	return dn
}

// Add adds an entry as the Administrator.
func (s *Server) Add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	req := goldap.NewAddRequest(dn, nil)
	for name, vals := range attrs {
		req.Attribute(name, vals)
	}
	if err := s.Conn(t).Add(req); err != nil {
		t.Fatalf("sambatest: add %s: %v", dn, err)
	}
}

// AddUser adds an enabled user CN=name under ou with sAMAccountName name,
// mail (when not empty) and ServicePassword, and returns its DN.
func (s *Server) AddUser(t testing.TB, ou, name, mail string) string {
	t.Helper()
	dn := "CN=" + goldap.EscapeDN(name) + "," + ou
	if err := addUser(s.Conn(t), dn, name, mail); err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	return dn
}

func addUser(conn *goldap.Conn, dn, sam, mail string) error {
	if sam == "" {
		p, err := goldap.ParseDN(dn)
		if err != nil {
			return err
		}
		sam = p.RDNs[0].Attributes[0].Value
	}
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"user"})
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("userPrincipalName", []string{sam + "@" + strings.ToLower(Realm)})
	if mail != "" {
		req.Attribute("mail", []string{mail})
	}
	req.Attribute("unicodePwd", []string{unicodePwd(ServicePassword)})
	req.Attribute("userAccountControl", []string{"512"}) // a normal, enabled account
	if err := conn.Add(req); err != nil {
		return fmt.Errorf("add user %s: %w", dn, err)
	}
	return nil
}

// unicodePwd is a password as AD takes it: quoted, UTF-16LE.
func unicodePwd(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		b[2*i], b[2*i+1] = byte(r), byte(r>>8)
	}
	return string(b)
}

// AddGroup adds a global security group CN=name under ou with members
// (DNs), and returns its DN.
func (s *Server) AddGroup(t testing.TB, ou, name string, members ...string) string {
	t.Helper()
	dn := "CN=" + goldap.EscapeDN(name) + "," + ou
	attrs := map[string][]string{"objectClass": {"group"}, "sAMAccountName": {name}}
	if len(members) > 0 {
		attrs["member"] = members
	}
	s.Add(t, dn, attrs)
	return dn
}

// Modify changes entry dn as the Administrator; edit fills the request.
func (s *Server) Modify(t testing.TB, dn string, edit func(*goldap.ModifyRequest)) {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	edit(req)
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("sambatest: modify %s: %v", dn, err)
	}
}

// AddMember adds member to group.
func (s *Server) AddMember(t testing.TB, group, member string) {
	t.Helper()
	s.Modify(t, group, func(m *goldap.ModifyRequest) { m.Add("member", []string{member}) })
}

// RemoveMember removes member from group.
func (s *Server) RemoveMember(t testing.TB, group, member string) {
	t.Helper()
	s.Modify(t, group, func(m *goldap.ModifyRequest) { m.Delete("member", []string{member}) })
}

// Disable sets the ACCOUNTDISABLE bit (0x2) of a user's userAccountControl.
func (s *Server) Disable(t testing.TB, dn string) {
	t.Helper()
	s.Modify(t, dn, func(m *goldap.ModifyRequest) { m.Replace("userAccountControl", []string{"514"}) })
}

// Delete deletes entry dn: it becomes a tombstone under CN=Deleted Objects.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(goldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("sambatest: delete %s: %v", dn, err)
	}
}

// GUID is the objectGUID of entry dn in canonical form, as usersync keeps
// it as the external ID.
func (s *Server) GUID(t testing.TB, dn string) string {
	t.Helper()
	res, err := s.Conn(t).Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectGUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("sambatest: objectGUID of %s: %v", dn, err)
	}
	id, err := ldap.DecodeGUID(res.Entries[0].GetRawAttributeValue("objectGUID"))
	if err != nil {
		t.Fatalf("sambatest: objectGUID of %s: %v", dn, err)
	}
	return id
}

// RID is the relative ID of entry dn: the last part of its objectSid, what
// a user's primaryGroupID names.
func (s *Server) RID(t testing.TB, dn string) string {
	t.Helper()
	res, err := s.Conn(t).Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("sambatest: objectSid of %s: %v", dn, err)
	}
	sid := res.Entries[0].GetRawAttributeValue("objectSid")
	if len(sid) < 12 {
		t.Fatalf("sambatest: objectSid of %s: %x", dn, sid)
	}
	return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(sid[len(sid)-4:])), 10)
}

// syncBuffer collects samba's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
