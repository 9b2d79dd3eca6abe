package ldap_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

func tlsServer(t *testing.T) *slapdtest.Server {
	data := slapdtest.NewData("")
	data.AddUser(slapdtest.User{UID: "anna", Mail: "anna@example.com"})
	return slapdtest.Start(t, slapdtest.Options{Data: data, TLS: true})
}

func TestOpen_StartTLSAndLDAPSWithTheTestCA(t *testing.T) {
	t.Parallel()
	s := tlsServer(t)

	startTLS := s.Config()
	ldaps := s.Config()
	ldaps.URL, ldaps.StartTLS = s.LDAPSURL, false

	for name, cfg := range map[string]ldap.Config{"StartTLS": startTLS, "ldaps": ldaps} {
		d := open(t, cfg)
		if got := names(search(t, d, "anna")); len(got) != 1 {
			t.Errorf("%s: search = %v", name, got)
		}
		checks := ldap.Test(testContext(t), cfg)
		if err := ldap.CheckErr(checks); err != nil {
			t.Errorf("%s: Test: %v", name, err)
		}
		if len(checks) != 4 || !strings.Contains(checks[1].Detail, "certificate verified with "+s.CAFile) {
			t.Errorf("%s: checks = %v", name, checks)
		}
	}
}

func TestOpen_CertificateFromAnUnknownCAIsRefused(t *testing.T) {
	t.Parallel()
	s := tlsServer(t)
	untrusted := slapdtest.UntrustedCAFile(t)

	startTLS := s.Config()
	startTLS.CAFile = untrusted
	ldaps := s.Config()
	ldaps.URL, ldaps.StartTLS, ldaps.CAFile = s.LDAPSURL, false, untrusted
	systemRoots := s.Config()
	systemRoots.CAFile = ""

	tests := []struct {
		name string
		cfg  ldap.Config
		want string
	}{
		{"StartTLS, other CA", startTLS, "not issued by the CA in ca_file " + untrusted},
		{"ldaps, other CA", ldaps, "not issued by the CA in ca_file " + untrusted},
		{"StartTLS, system roots", systemRoots, "set ca_file"},
	}
	for _, tt := range tests {
		_, err := ldap.Open(testContext(t), tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Open error = %v, want it to contain %q", tt.name, err, tt.want)
		}
		checks := ldap.Test(testContext(t), tt.cfg)
		if !checks[0].OK || checks[1].OK || !checks[2].Skipped || !checks[3].Skipped {
			t.Errorf("%s: checks = %v, want connect ok, TLS failed, the rest skipped", tt.name, checks)
		}
	}
}

func TestOpen_InsecureSkipVerifyConnectsAndWarns(t *testing.T) {
	t.Parallel()
	s := tlsServer(t)
	cfg := s.Config()
	cfg.CAFile = ""
	cfg.InsecureSkipVerify = true
	open(t, cfg)
	checks := ldap.Test(testContext(t), cfg)
	if checks[1].Warning == "" || !strings.Contains(checks[1].Detail, "NOT verified") {
		t.Errorf("TLS check = %+v, want a warning", checks[1])
	}
}

func TestOpen_PlaintextBindIsRefusedWithoutAllowInsecure(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	cfg := s.Config()
	cfg.AllowInsecure = false
	_, err := ldap.Open(testContext(t), cfg)
	if err == nil {
		t.Fatal("Open bound in clear without allow_insecure")
	}
	for _, want := range []string{"unencrypted", "allow_insecure", "start_tls", "ldaps://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), slapdtest.ServicePassword) {
		t.Errorf("error contains the password: %v", err)
	}

	cfg.AllowInsecure = true
	open(t, cfg)

	anon := s.Config()
	anon.AllowInsecure, anon.BindDN, anon.Password = false, "", ""
	d := open(t, anon) // anonymous: no password to protect
	checks := ldap.Test(testContext(t), anon)
	if checks[1].Warning == "" || checks[2].Detail != "anonymous (no bind_dn)" {
		t.Errorf("checks = %v", checks)
	}
	_ = d
}

func TestOpen_WrongPasswordSaysWhatToCheck(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	cfg := s.Config()
	cfg.Password = "not-the-password-1234"
	cfg.BindPasswordEnv = "SLAPD_PASSWORD"
	_, err := ldap.Open(testContext(t), cfg)
	want := "bind as " + s.BindDN + " failed: invalid credentials — check bind_dn and the password from $SLAPD_PASSWORD"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), cfg.Password) {
		t.Errorf("the error contains the password: %v", err)
	}
	checks := ldap.Test(testContext(t), cfg)
	if !checks[1].OK || checks[2].OK || !strings.Contains(checks[2].Err.Error(), "invalid credentials") || !checks[3].Skipped {
		t.Errorf("checks = %v", checks)
	}
}

func TestOpen_UnreachableServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	cfg := ldap.Config{Name: "gone", URL: "ldap://" + addr, BaseDN: "dc=example,dc=com", AllowInsecure: true}
	_, err = ldap.Open(testContext(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "connect to "+addr) || !strings.Contains(err.Error(), "reachable") {
		t.Errorf("err = %v", err)
	}
	checks := ldap.Test(testContext(t), cfg)
	if checks[0].OK || !checks[1].Skipped || !checks[2].Skipped || !checks[3].Skipped {
		t.Errorf("checks = %v", checks)
	}
}

func TestTest_BaseDNMissing(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	cfg := s.Config()
	cfg.GroupBaseDN = "ou=teams,dc=example,dc=com"
	checks := ldap.Test(testContext(t), cfg)
	if len(checks) != 4 || !checks[2].OK || checks[3].OK {
		t.Fatalf("checks = %v", checks)
	}
	if err := checks[3].Err.Error(); !strings.Contains(err, "ou=teams,dc=example,dc=com not found") || !strings.Contains(err, "group_base_dn") {
		t.Errorf("base DN check error = %q", err)
	}
}

func TestTest_BadConfiguration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  ldap.Config
		want string
	}{
		{ldap.Config{URL: "http://x", BaseDN: "dc=x"}, "ldap:// or ldaps://"},
		{ldap.Config{URL: "ldap://x"}, "base_dn"},
		{ldap.Config{URL: "ldap://x", BaseDN: "dc=x", Flavor: "novell"}, `flavor "novell"`},
		{ldap.Config{URL: "ldap://x", BaseDN: "not a dn"}, "not a valid DN"},
		{ldap.Config{URL: "ldap://x", BaseDN: "dc=x", CAFile: "/nonexistent/ca.pem"}, "ca_file"},
	} {
		checks := ldap.Test(testContext(t), tt.cfg)
		if checks[0].Step != ldap.StepConfig || checks[0].OK || !strings.Contains(checks[0].Err.Error(), tt.want) {
			t.Errorf("Test(%+v) = %v, want a config error containing %q", tt.cfg, checks, tt.want)
		}
		if _, err := ldap.Open(testContext(t), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().String()
}

func TestTimeout_ASilentServerEndsTheCallInTime(t *testing.T) {
	t.Parallel()
	addr := silentServer(t)
	timeout := ldap.Duration{Duration: 300 * time.Millisecond}

	start := time.Now()
	_, err := ldap.Open(testContext(t), ldap.Config{URL: "ldap://" + addr, BaseDN: "dc=x", StartTLS: true, Timeout: timeout})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("StartTLS to a silent server: err = %v after %s", err, time.Since(start))
	}

	// Anonymous in clear: Open has nothing to wait for but the root DSE,
	// which it may go without when the server refuses it, but not when
	// the server does not answer at all.
	start = time.Now()
	_, err = ldap.Open(testContext(t), ldap.Config{Name: "dc01", URL: "ldap://" + addr, BaseDN: "dc=x", Timeout: timeout})
	if err == nil || !strings.Contains(err.Error(), "dc01 did not answer for 300ms (timeout)") {
		t.Errorf("Open: err = %v, want one saying dc01 did not answer for 300ms (timeout)", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Open took %s with a 300ms timeout", time.Since(start))
	}
}

func TestOpen_ContextCancelled(t *testing.T) {
	t.Parallel()
	addr := silentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ldap.Open(ctx, ldap.Config{URL: "ldap://" + addr, BaseDN: "dc=x", StartTLS: true})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %s", err, time.Since(start))
	}
}
