package ldap

import "time"

// Config is one configured LDAP server, as the [[ldap]] tables of the TOML
// configuration give it. The key names are part of the product's contract.
type Config struct {
	Name        string `toml:"name"`
	URL         string `toml:"url"`
	StartTLS    bool   `toml:"start_tls"`
	BaseDN      string `toml:"base_dn"`
	UserBaseDN  string `toml:"user_base_dn"`
	GroupBaseDN string `toml:"group_base_dn"`
	BindDN      string `toml:"bind_dn"`
	// BindPasswordEnv and BindPasswordFile say where the bind password
	// comes from; with neither, the password is asked for interactively.
	BindPasswordEnv  string `toml:"bind_password_env"`
	BindPasswordFile string `toml:"bind_password_file"`
	CAFile           string `toml:"ca_file"`
	// InsecureSkipVerify turns off certificate verification (tests, labs).
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`
	// Flavor is "openldap" (default), "active-directory" or "freeipa".
	Flavor   string `toml:"flavor"`
	PageSize int    `toml:"page_size"`
	// AllowInsecure permits a simple bind over an unencrypted connection.
	AllowInsecure bool     `toml:"allow_insecure"`
	Timeout       Duration `toml:"timeout"`
	// Attributes override the flavor's attribute names.
	Attributes Attributes `toml:"attributes"`

	// Password is the resolved bind password. It is never read from or
	// written to the file; the caller fills it from the env var, the file
	// or a prompt.
	Password string `toml:"-"`
}

// Attributes are the LDAP attribute and object class names a flavor maps.
// Empty fields take the flavor's defaults.
type Attributes struct {
	Username    string `toml:"username"`
	ExternalID  string `toml:"external_id"`
	DisplayName string `toml:"display_name"`
	Email       string `toml:"email"`
	GroupName   string `toml:"group_name"`
	Member      string `toml:"member"`
	MemberOf    string `toml:"member_of"`
	UserClass   string `toml:"user_class"`
	GroupClass  string `toml:"group_class"`
	// Disabled names the attribute that marks an account disabled:
	// userAccountControl (bit 0x2) for active-directory, nsAccountLock
	// ("TRUE") for freeipa, pwdAccountLockedTime (administrative lock) for
	// openldap. With active-directory it is read as a userAccountControl
	// number, otherwise as a boolean.
	Disabled string `toml:"disabled"`
}

// Duration is a time.Duration written in TOML as a string ("30s").
type Duration struct{ time.Duration }

// UnmarshalText parses "30s", "2m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as Go writes it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }
