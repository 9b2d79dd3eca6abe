package entra_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

func TestConfig_DecodesTheProductKeys(t *testing.T) {
	t.Parallel()
	const doc = `
[[entra]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
auth = "client-secret"
client_secret_env = "CONTOSO_SECRET"
client_secret_file = "/run/secret"
certificate_file = "/etc/cert.pem"
cloud = "usgov"
authority_host = "https://login.example/"
graph_endpoint = "https://graph.example"
ca_file = "/etc/ca.pem"
`
	var file struct{ Entra []entra.Config }
	md, err := toml.Decode(doc, &file)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Undecoded()) != 0 {
		t.Errorf("keys not decoded: %v", md.Undecoded())
	}
	c := file.Entra[0]
	want := entra.Config{Name: "contoso", TenantID: "00000000-0000-0000-0000-000000000000",
		ClientID: "11111111-1111-1111-1111-111111111111", Auth: "client-secret", ClientSecretEnv: "CONTOSO_SECRET",
		ClientSecretFile: "/run/secret", CertificateFile: "/etc/cert.pem", Cloud: "usgov",
		AuthorityHost: "https://login.example/", GraphEndpoint: "https://graph.example", CAFile: "/etc/ca.pem"}
	if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", want) {
		t.Errorf("decoded\n%#v\nwant\n%#v", c, want)
	}
}

func TestConfig_CloudPresetsAndConsentAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ cloud, host, consent string }{
		{"", "", "https://login.microsoftonline.com/t/adminconsent?client_id=c"},
		{"public", "", "https://login.microsoftonline.com/t/adminconsent?client_id=c"},
		{"usgov", "", "https://login.microsoftonline.us/t/adminconsent?client_id=c"},
		{"china", "", "https://login.chinacloudapi.cn/t/adminconsent?client_id=c"},
		{"public", "https://login.example:8443", "https://login.example:8443/t/adminconsent?client_id=c"},
	} {
		c := entra.Config{Name: "x", TenantID: "t", ClientID: "c", Cloud: tc.cloud, AuthorityHost: tc.host}
		if err := c.Validate(); err != nil {
			t.Errorf("%q: %v", tc.cloud, err)
		}
		if got := c.AdminConsentURL(); got != tc.consent {
			t.Errorf("cloud %q host %q: consent %s, want %s", tc.cloud, tc.host, got, tc.consent)
		}
	}
	for _, bad := range []entra.Config{
		{Name: "x", ClientID: "c"},
		{Name: "x", TenantID: "t"},
		{Name: "x", TenantID: "t", ClientID: "c", Auth: "password"},
		{Name: "x", TenantID: "t", ClientID: "c", Cloud: "mars"},
		{Name: "x", TenantID: "t", ClientID: "c", GraphEndpoint: "http://graph.example"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

func TestConfig_LoadSecretsAndKeepsThemOutOfPrint(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENTRA_TEST_SECRET", "from-env")

	c := entra.Config{Name: "x", TenantID: "t", ClientID: "c", Auth: entra.AuthClientSecret, ClientSecretEnv: "ENTRA_TEST_SECRET"}
	if err := c.LoadSecrets(); err != nil || c.ClientSecret != "from-env" {
		t.Fatalf("env: %q %v", c.ClientSecret, err)
	}
	c = entra.Config{Name: "x", Auth: entra.AuthClientSecret, ClientSecretFile: file}
	if err := c.LoadSecrets(); err != nil || c.ClientSecret != "from-file" {
		t.Fatalf("file: %q %v", c.ClientSecret, err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "from-file") {
			t.Errorf("the secret is printed: %s", s)
		}
	}
	c = entra.Config{Name: "x", Auth: entra.AuthClientSecret, ClientSecretEnv: "ENTRA_TEST_UNSET"}
	if err := c.LoadSecrets(); err == nil || !strings.Contains(err.Error(), "ENTRA_TEST_UNSET") {
		t.Errorf("unset variable: %v", err)
	}
	c = entra.Config{Name: "x", Auth: entra.AuthCertificate}
	if err := c.LoadSecrets(); err == nil || !strings.Contains(err.Error(), "certificate_file") {
		t.Errorf("no certificate file: %v", err)
	}
}

func TestUsername(t *testing.T) {
	t.Parallel()
	for upn, want := range map[string]string{
		"anna.bauer@contoso.com":                             "anna.bauer",
		"jane.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com": "jane.doe_fabrikam.com",
		"svc": "svc",
	} {
		if got := entra.Username(upn); got != want {
			t.Errorf("Username(%q) = %q, want %q", upn, got, want)
		}
	}
}

// selfSigned writes a PEM holding a throwaway RSA certificate and its key.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "usersync test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
}

func TestOpen_CertificateCredential(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	certFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(certFile, selfSigned(t), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := configFor(srv)
	cfg.Auth, cfg.ClientSecret, cfg.CertificateFile = entra.AuthCertificate, "", certFile
	if err := cfg.LoadSecrets(); err != nil {
		t.Fatal(err)
	}
	d, err := entra.Open(ctxT(t), cfg, entra.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ReadGroup(ctxT(t), tenant.GroupByName("Finance").ID); err != nil {
		t.Fatal(err)
	}
}

func TestReadGroup_UnauthorizedNamesPermissionAndConsent(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	srv.AddFault(graphtest.Fault{Status: http.StatusUnauthorized})
	_, err := d.ReadGroup(ctxT(t), tenant.GroupByName("Sales").ID)
	var pe *entra.PermissionError
	if !errors.As(err, &pe) || pe.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "adminconsent") {
		t.Fatalf("err = %v, want a 401 PermissionError with the consent address", err)
	}
	srv.ClearFaults()
	srv.Revoke(graphtest.PermUserReadAll)
	_, err = d.LookupUsers(ctxT(t), []string{tenant.Users[0].ID})
	if !errors.Is(err, entra.ErrPermission) || !strings.Contains(err.Error(), "User.Read.All") {
		t.Errorf("LookupUsers with User.Read.All revoked: %v", err)
	}
	if errors.Is(err, directory.ErrIncomplete) {
		t.Error("a failed lookup is not a partial read")
	}
}

// TestOpen_TrustsSSLCertFile runs a child test process with SSL_CERT_FILE
// naming the test server's CA and no ca_file: the system roots it loads
// must then trust the server. (The system pool is loaded once per process,
// hence the child.)
func TestOpen_TrustsSSLCertFile(t *testing.T) {
	if os.Getenv("ENTRA_TEST_CHILD_AUTHORITY") != "" {
		t.Skip("in the child")
	}
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildSignsInTrustingSSLCertFile$", "-test.v")
	cmd.Env = append(os.Environ(),
		"SSL_CERT_FILE="+srv.CAFile(),
		"ENTRA_TEST_CHILD_AUTHORITY="+srv.AuthorityHost(),
		"ENTRA_TEST_CHILD_TENANT="+srv.TenantID(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestChildSignsInTrustingSSLCertFile") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestChildSignsInTrustingSSLCertFile(t *testing.T) {
	authority := os.Getenv("ENTRA_TEST_CHILD_AUTHORITY")
	if authority == "" {
		t.Skip("run by TestOpen_TrustsSSLCertFile")
	}
	cfg := entra.Config{Name: "contoso", TenantID: os.Getenv("ENTRA_TEST_CHILD_TENANT"), ClientID: graphtest.SampleClientID,
		Auth: entra.AuthClientSecret, ClientSecret: testSecret, AuthorityHost: authority, GraphEndpoint: authority}
	d, err := entra.Open(ctxT(t), cfg, entra.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.FindGroup(ctxT(t), "Sales"); err != nil {
		t.Fatal(err)
	}
}
