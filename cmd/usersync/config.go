package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/ldap"
)

// Config is the configuration file: the directories usersync knows.
type Config struct {
	LDAP  []ldap.Config  `toml:"ldap"`
	Entra []entra.Config `toml:"entra"`

	path string
	// missing: the default file does not exist (no configuration yet).
	missing bool
}

// noConfig says what to do when there is no configuration yet.
func (c *Config) noConfig() string {
	return fmt.Sprintf("no configuration yet: %s does not exist. Try 'usersync demo' (sample directories and a scratch store, nothing to set up), or 'usersync directories init' to write a commented template there, then edit it", c.path)
}

// configError is a problem in the configuration file, with where it is.
type configError struct {
	path string
	line int
	msg  string
}

func (e *configError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("config %s:%d: %s", e.path, e.line, e.msg)
	}
	return fmt.Sprintf("config %s: %s", e.path, e.msg)
}

// resolvedConfigPath is --config, else $USERSYNC_CONFIG, else the XDG
// default; explicit says whether the user named it (then it must exist).
func (a *app) resolvedConfigPath() (path string, explicit bool) {
	if a.configPath != "" {
		return a.configPath, true
	}
	if p := os.Getenv("USERSYNC_CONFIG"); p != "" {
		return p, true
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "usersync", "config.toml"), false
}

// config loads the configuration on first use. A default file that does not
// exist is an empty configuration; a named one must exist.
func (a *app) config() (*Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	path, explicit := a.resolvedConfigPath()
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !explicit:
		a.cfg = &Config{path: path, missing: true}
		return a.cfg, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, errors.New((&Config{path: path}).noConfig() + " (it is named by --config or $USERSYNC_CONFIG)")
	case err != nil:
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parseConfig(path, data)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// parseConfig decodes and checks a configuration file. Every error names the
// file, the line where it can be told, and what is wrong.
func parseConfig(path string, data []byte) (*Config, error) {
	cfg := &Config{path: path}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &configError{path: path, line: pe.Position.Line, msg: pe.Message}
		}
		return nil, &configError{path: path, msg: err.Error()}
	}
	lines := indexConfigLines(data)
	if und := md.Undecoded(); len(und) > 0 {
		key := und[0]
		return nil, &configError{path: path, line: lines.find(key...), msg: fmt.Sprintf("unknown key %q", key.String())}
	}
	names := map[string]bool{}
	for i, l := range cfg.LDAP {
		at := func(key string) int { return lines.at("ldap", i, key) }
		fail := func(key, format string, args ...any) error {
			return &configError{path: path, line: at(key), msg: fmt.Sprintf("[[ldap]] %q: ", l.Name) + fmt.Sprintf(format, args...)}
		}
		if l.Name == "" {
			return nil, &configError{path: path, line: lines.table("ldap", i), msg: "[[ldap]] entry has no name"}
		}
		if names[strings.ToLower(l.Name)] {
			return nil, fail("name", "a directory named %q is configured twice", l.Name)
		}
		names[strings.ToLower(l.Name)] = true
		u, err := url.Parse(l.URL)
		switch {
		case l.URL == "":
			return nil, fail("name", "url is missing (ldap://host:389 or ldaps://host:636)")
		case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
			return nil, fail("url", "url %q must be ldap://host[:port] or ldaps://host[:port]", l.URL)
		case u.Scheme == "ldaps" && l.StartTLS:
			return nil, fail("start_tls", "start_tls = true needs an ldap:// url; ldaps:// is TLS already")
		}
		switch l.Flavor {
		case "", "openldap", "active-directory", "freeipa":
		default:
			return nil, fail("flavor", "flavor %q is not one of openldap, active-directory, freeipa", l.Flavor)
		}
		if l.BaseDN == "" {
			return nil, fail("name", "base_dn is missing")
		}
		if l.BindPasswordEnv != "" && l.BindPasswordFile != "" {
			return nil, fail("bind_password_file", "set bind_password_env or bind_password_file, not both")
		}
		if l.PageSize < 0 {
			return nil, fail("page_size", "page_size must be positive")
		}
		if l.Timeout.Duration < 0 {
			return nil, fail("timeout", "timeout must be positive")
		}
	}
	for i, e := range cfg.Entra {
		at := func(key string) int { return lines.at("entra", i, key) }
		fail := func(key, format string, args ...any) error {
			return &configError{path: path, line: at(key), msg: fmt.Sprintf("[[entra]] %q: ", e.Name) + fmt.Sprintf(format, args...)}
		}
		if e.Name == "" {
			return nil, &configError{path: path, line: lines.table("entra", i), msg: "[[entra]] entry has no name"}
		}
		if names[strings.ToLower(e.Name)] {
			return nil, fail("name", "a directory named %q is configured twice", e.Name)
		}
		names[strings.ToLower(e.Name)] = true
		if e.TenantID == "" {
			return nil, fail("name", "tenant_id is missing")
		}
		if e.ClientID == "" {
			return nil, fail("name", "client_id is missing")
		}
		switch e.Auth {
		case "", "device-code":
		case "client-secret":
			if e.ClientSecretEnv == "" && e.ClientSecretFile == "" {
				return nil, fail("auth", "auth = \"client-secret\" needs client_secret_env or client_secret_file")
			}
		case "certificate":
			if e.CertificateFile == "" {
				return nil, fail("auth", "auth = \"certificate\" needs certificate_file")
			}
		default:
			return nil, fail("auth", "auth %q is not one of device-code, client-secret, certificate", e.Auth)
		}
		switch e.Cloud {
		case "", "public", "usgov", "china":
		default:
			return nil, fail("cloud", "cloud %q is not one of public, usgov, china", e.Cloud)
		}
		for key, v := range map[string]string{"authority_host": e.AuthorityHost, "graph_endpoint": e.GraphEndpoint} {
			if v == "" {
				continue
			}
			if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
				return nil, fail(key, "%s %q must be an https:// address", key, v)
			}
		}
	}
	return cfg, nil
}

// configLines remembers on which line each key of each table-array entry
// is written, so that a value that decodes but is wrong can be pointed at.
type configLines struct {
	tables map[string][]int            // "ldap" -> header line of each entry
	keys   map[string][]map[string]int // "ldap" -> per entry: key -> line
	top    map[string]int              // top-level keys and [table] headers
}

var (
	arrayHeader = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]`)
	tableHeader = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]`)
	keyLine     = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*=`)
)

func indexConfigLines(data []byte) configLines {
	cl := configLines{tables: map[string][]int{}, keys: map[string][]map[string]int{}, top: map[string]int{}}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := arrayHeader.FindStringSubmatch(line); m != nil {
			cur = m[1]
			cl.tables[cur] = append(cl.tables[cur], n)
			cl.keys[cur] = append(cl.keys[cur], map[string]int{})
			continue
		}
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			// A sub-table such as [ldap.attributes] belongs to the
			// current entry; keys in it are recorded as "attributes.key".
			cur = m[1]
			if _, ok := cl.top[cur]; !ok {
				cl.top[cur] = n
			}
			continue
		}
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if cur == "" {
			cl.top[m[1]] = n
			continue
		}
		top, sub, _ := strings.Cut(cur, ".")
		entries := cl.keys[top]
		if len(entries) == 0 {
			continue
		}
		key := m[1]
		if sub != "" {
			key = sub + "." + key
		}
		entries[len(entries)-1][key] = n
	}
	return cl
}

// at is the line of key in the i-th entry of table, else the entry's header.
func (cl configLines) at(table string, i int, key string) int {
	if entries := cl.keys[table]; i < len(entries) {
		if n, ok := entries[i][key]; ok {
			return n
		}
	}
	return cl.table(table, i)
}

// table is the header line of the i-th entry of table.
func (cl configLines) table(table string, i int) int {
	if hs := cl.tables[table]; i < len(hs) {
		return hs[i]
	}
	return 0
}

// find is the first line where the dotted key path is written (for keys the
// decoder did not know, which come without an entry index).
func (cl configLines) find(path ...string) int {
	if n, ok := cl.top[strings.Join(path, ".")]; ok {
		return n
	}
	if len(path) < 2 {
		return cl.top[path[0]]
	}
	key := strings.Join(path[1:], ".")
	for _, entry := range cl.keys[path[0]] {
		if n, ok := entry[key]; ok {
			return n
		}
	}
	return 0
}
