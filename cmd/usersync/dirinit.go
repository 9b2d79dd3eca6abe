package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func (a *app) directoriesInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Write a commented configuration template to edit",
		Long: `Write a commented template of the configuration file — an Active Directory
server, an OpenLDAP or FreeIPA server and an Entra ID tenant, every key with
what it means — at --config (or $USERSYNC_CONFIG, or the default path), with
mode 0600. Uncomment and edit the sections you need; 'usersync directories
test NAME' then checks each directory step by step. An existing file is never
overwritten.`,
		Example: `  usersync directories init && $EDITOR ~/.config/usersync/config.toml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _ := a.resolvedConfigPath()
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists: nothing was written (edit it, or pass --config to write the template elsewhere)", path)
			}
			if err != nil {
				return fmt.Errorf("write the template: %w", err)
			}
			if _, err := f.WriteString(configTemplate); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", path, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			fmt.Fprintf(a.stderr, "Wrote a commented template to %s: uncomment and edit the sections you need, then run 'usersync directories test NAME'.\n", path)
			return nil
		},
	}
}

// configTemplate is the file `directories init` writes: every section
// commented out, so that it is a valid, empty configuration until edited.
const configTemplate = `# usersync configuration. Uncomment and edit the sections you need; the key
# names are part of usersync's contract. Secrets never go in this file: bind
# passwords come from an environment variable, a file, or a prompt; Entra
# client secrets from an environment variable or a file.
# Check a directory with: usersync directories test NAME

# --- Active Directory ------------------------------------------------------
# [[ldap]]
# name = "dc01"                              # what you call it: --server dc01
# url = "ldaps://dc01.corp.example:636"      # or ldap://host:389 with start_tls = true
# start_tls = false
# base_dn = "DC=corp,DC=example"
# user_base_dn = ""                          # optional, defaults to base_dn
# group_base_dn = ""                         # optional, defaults to base_dn
# bind_dn = "CN=svc-usersync,OU=Service,DC=corp,DC=example"
# bind_password_env = "DC01_PASSWORD"        # or bind_password_file = "/path"; neither: prompt
# ca_file = ""                               # the CA that issued the server's certificate; system roots otherwise
# flavor = "active-directory"                # sAMAccountName, objectGUID, userAccountControl
# page_size = 1000
# allow_insecure = false                     # true permits a password over plain LDAP (test labs only)
# timeout = "30s"                            # give up when the server sends nothing for this long

# --- OpenLDAP (or FreeIPA with flavor = "freeipa") ---------------------------
# [[ldap]]
# name = "ldap1"
# url = "ldap://ldap1.corp.example:389"
# start_tls = true
# base_dn = "dc=corp,dc=example"
# user_base_dn = "ou=people,dc=corp,dc=example"
# group_base_dn = "ou=groups,dc=corp,dc=example"
# bind_dn = "cn=usersync,ou=services,dc=corp,dc=example"
# bind_password_file = "/etc/usersync/ldap1.pw"
# flavor = "openldap"                        # uid, entryUUID, inetOrgPerson, groupOfNames
# [ldap.attributes]                          # optional overrides of the flavor's attribute names
# disabled = "pwdAccountLockedTime"

# --- Microsoft Entra ID --------------------------------------------------------
# [[entra]]
# name = "contoso"                           # --tenant contoso
# tenant_id = "00000000-0000-0000-0000-000000000000"
# client_id = "11111111-1111-1111-1111-111111111111"
# auth = "device-code"                       # or "client-secret", "certificate" (unattended, cron)
# client_secret_env = "CONTOSO_SECRET"       # or client_secret_file; certificate_file for certificate
# cloud = "public"                           # or "usgov", "china"
`
