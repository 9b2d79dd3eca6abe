package entra

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Auth methods a tenant can be configured with.
const (
	AuthDeviceCode   = "device-code"
	AuthClientSecret = "client-secret"
	AuthCertificate  = "certificate"
)

// Clouds a tenant can live in.
const (
	CloudPublic = "public"
	CloudUSGov  = "usgov"
	CloudChina  = "china"
)

// Config is one configured Entra ID tenant, as the [[entra]] tables of the
// TOML configuration give it. The key names are part of the product's
// contract.
type Config struct {
	Name     string `toml:"name"`
	TenantID string `toml:"tenant_id"`
	ClientID string `toml:"client_id"`
	// Auth is "device-code" (the default), "client-secret" or "certificate".
	Auth string `toml:"auth"`
	// ClientSecretEnv and ClientSecretFile say where the client secret
	// comes from (auth = "client-secret").
	ClientSecretEnv  string `toml:"client_secret_env"`
	ClientSecretFile string `toml:"client_secret_file"`
	// CertificateFile is a PEM (or PKCS#12) file holding the certificate
	// and its private key (auth = "certificate").
	CertificateFile string `toml:"certificate_file"`
	// Cloud is "public" (the default), "usgov" or "china"; it presets the
	// sign-in and Graph addresses.
	Cloud string `toml:"cloud"`
	// AuthorityHost overrides the cloud's sign-in address
	// (e.g. https://login.microsoftonline.us/).
	AuthorityHost string `toml:"authority_host"`
	// GraphEndpoint overrides the cloud's Graph address
	// (e.g. https://graph.microsoft.us).
	GraphEndpoint string `toml:"graph_endpoint"`
	// CAFile is a PEM file of CA certificates trusted in addition to the
	// system roots (which SSL_CERT_FILE and SSL_CERT_DIR change).
	CAFile string `toml:"ca_file"`

	// ClientSecret is the resolved client secret. It is never read from or
	// written to the file, and never logged; the caller fills it (see
	// LoadSecrets).
	ClientSecret string `toml:"-"`
	// Certificate is the resolved content of CertificateFile, and
	// CertificatePassword the password of an encrypted key, if any. Never
	// written anywhere.
	Certificate         []byte `toml:"-"`
	CertificatePassword string `toml:"-"`
}

// cloudPreset is a national cloud's sign-in and Graph addresses.
type cloudPreset struct{ authority, graph string }

var clouds = map[string]cloudPreset{
	CloudPublic: {"https://login.microsoftonline.com/", "https://graph.microsoft.com"},
	CloudUSGov:  {"https://login.microsoftonline.us/", "https://graph.microsoft.us"},
	CloudChina:  {"https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn"},
}

// endpoints returns the sign-in and Graph addresses, normalized: the
// authority with a trailing slash, Graph without one.
func (c Config) endpoints() (authority, graph string, err error) {
	cloud := c.Cloud
	if cloud == "" {
		cloud = CloudPublic
	}
	preset, ok := clouds[strings.ToLower(cloud)]
	if !ok {
		return "", "", fmt.Errorf("cloud %q is not one of public, usgov, china", c.Cloud)
	}
	authority, graph = preset.authority, preset.graph
	if c.AuthorityHost != "" {
		authority = c.AuthorityHost
	}
	if c.GraphEndpoint != "" {
		graph = c.GraphEndpoint
	}
	for _, a := range []struct{ key, v string }{{"authority_host", authority}, {"graph_endpoint", graph}} {
		u, err := url.Parse(a.v)
		if err != nil || u.Host == "" {
			return "", "", fmt.Errorf("%s %q is not an address like https://host/", a.key, a.v)
		}
		if u.Scheme != "https" {
			return "", "", fmt.Errorf("%s %q must use https", a.key, a.v)
		}
	}
	authority = strings.TrimRight(authority, "/") + "/"
	graph = strings.TrimRight(graph, "/")
	graph = strings.TrimSuffix(graph, "/v1.0")
	return authority, graph, nil
}

// auth returns the configured auth method, defaulting to device code.
func (c Config) auth() string {
	if c.Auth == "" {
		return AuthDeviceCode
	}
	return strings.ToLower(c.Auth)
}

// Validate checks the configuration without touching the network or the
// secrets' sources.
func (c Config) Validate() error {
	if c.TenantID == "" {
		return fmt.Errorf("entra %s: tenant_id is missing", c.Name)
	}
	if c.ClientID == "" {
		return fmt.Errorf("entra %s: client_id is missing (the application (client) ID of the app registration)", c.Name)
	}
	switch c.auth() {
	case AuthDeviceCode, AuthClientSecret, AuthCertificate:
	default:
		return fmt.Errorf("entra %s: auth %q is not one of device-code, client-secret, certificate", c.Name, c.Auth)
	}
	if _, _, err := c.endpoints(); err != nil {
		return fmt.Errorf("entra %s: %w", c.Name, err)
	}
	return nil
}

// LoadSecrets fills ClientSecret from client_secret_env or
// client_secret_file, and Certificate from certificate_file, as the auth
// method needs. Errors name the variable or file, never the secret.
func (c *Config) LoadSecrets() error {
	switch c.auth() {
	case AuthClientSecret:
		if c.ClientSecret != "" {
			return nil
		}
		switch {
		case c.ClientSecretEnv != "":
			v, ok := os.LookupEnv(c.ClientSecretEnv)
			if !ok || v == "" {
				return fmt.Errorf("entra %s: environment variable %s (client_secret_env) is not set", c.Name, c.ClientSecretEnv)
			}
			c.ClientSecret = v
		case c.ClientSecretFile != "":
			b, err := os.ReadFile(c.ClientSecretFile)
			if err != nil {
				return fmt.Errorf("entra %s: client_secret_file: %w", c.Name, err)
			}
			c.ClientSecret = strings.TrimSpace(string(b))
			if c.ClientSecret == "" {
				return fmt.Errorf("entra %s: client_secret_file %s is empty", c.Name, c.ClientSecretFile)
			}
		default:
			return fmt.Errorf("entra %s: auth = \"client-secret\" needs client_secret_env or client_secret_file", c.Name)
		}
	case AuthCertificate:
		if len(c.Certificate) > 0 {
			return nil
		}
		if c.CertificateFile == "" {
			return fmt.Errorf("entra %s: auth = \"certificate\" needs certificate_file", c.Name)
		}
		b, err := os.ReadFile(c.CertificateFile)
		if err != nil {
			return fmt.Errorf("entra %s: certificate_file: %w", c.Name, err)
		}
		c.Certificate = b
	}
	return nil
}

// AdminConsentURL is the address where an administrator of the tenant
// grants the application the permissions it asks for, on the configured
// authority host.
func (c Config) AdminConsentURL() string {
	authority, _, err := c.endpoints()
	if err != nil {
		authority = clouds[CloudPublic].authority
	}
	return authority + url.PathEscape(c.TenantID) + "/adminconsent?client_id=" + url.QueryEscape(c.ClientID)
}

// GoString keeps secrets out of %#v.
func (c Config) GoString() string {
	c.ClientSecret, c.Certificate, c.CertificatePassword = redact(c.ClientSecret), nil, redact(c.CertificatePassword)
	type plain Config
	return fmt.Sprintf("%#v", plain(c))
}

// String keeps secrets out of %v and %s.
func (c Config) String() string {
	return fmt.Sprintf("entra %s (tenant %s, client %s, auth %s)", c.Name, c.TenantID, c.ClientID, c.auth())
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}
