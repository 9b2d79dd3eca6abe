package entra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/usersync/usersync/directory"
)

// DeviceCodePrompt is what a person needs to finish a device-code sign-in:
// open VerificationURL in any browser, on any machine, and enter UserCode.
// Message is Entra's own sentence saying both.
type DeviceCodePrompt struct {
	VerificationURL string
	UserCode        string
	Message         string
}

// Options are the caller's hooks and limits for Open. The zero value is
// usable: the device-code prompt then goes to standard error.
type Options struct {
	// DeviceCodePrompt shows the device-code instructions (the wizard's
	// sign-in screen). Open then waits until the person signs in, the code
	// expires, or ctx is cancelled. Nil prints Message to standard error.
	DeviceCodePrompt func(ctx context.Context, p DeviceCodePrompt)
	// Transport is the innermost HTTP transport for sign-in and Graph
	// requests. Nil builds one that trusts the system roots plus ca_file.
	Transport http.RoundTripper
	// OnThrottle is called each time Graph throttles a request (429, or
	// 503/504) and the request is about to be retried after wait; the
	// progress view shows it. It may be called from several goroutines.
	OnThrottle func(wait time.Duration)
	// MaxRetries is how many times a throttled or unavailable request is
	// retried (default 5; the SDK allows at most 10).
	MaxRetries int
	// MaxRetryWait is the longest single Retry-After honoured (default 2
	// minutes): a request told to wait longer fails at once, as throttled,
	// rather than stall an import. The SDK stops retrying once its waits
	// for one request add up to 3 minutes.
	MaxRetryWait time.Duration
	// RequestTimeout bounds one HTTP attempt, from sending the request to
	// reading the last byte of the answer (default 60 seconds). A page that
	// never arrives fails after it.
	RequestTimeout time.Duration
}

const (
	defaultMaxRetries     = 5
	defaultMaxRetryWait   = 2 * time.Minute
	defaultRequestTimeout = 60 * time.Second
	// retryBaseDelay is the SDK's back-off base, in seconds, when Graph
	// sends no Retry-After.
	retryBaseDelay = 2
)

// Directory is one Entra ID tenant, signed in. It satisfies
// directory.Directory and adds what the Entra wizard needs: ListGroups for
// the group chooser and FindGroup for `--group`.
type Directory struct {
	cfg       Config
	opts      Options
	authority string // https://login.microsoftonline.com/
	graph     string // https://graph.microsoft.com
	cred      azcore.TokenCredential
	client    *msgraph.GraphServiceClient
	transport http.RoundTripper
	recorder  *signInRecorder
}

var _ directory.Directory = (*Directory)(nil)

// clientMu serializes the SDK's client construction, which registers
// process-wide serializers.
var clientMu sync.Mutex

// Open signs in to the tenant cfg describes and prepares the Graph client.
// With device code (the default auth), it shows the code through
// opts.DeviceCodePrompt and returns once the person has signed in; with a
// client secret or certificate it fetches a first token. Tokens are kept in
// memory for the life of the Directory, never on disk. cfg's secrets must
// already be resolved (Config.LoadSecrets).
func Open(ctx context.Context, cfg Config, opts Options) (*Directory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, err := newDirectory(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("entra %s: %w", cfg.Name, err)
	}
	if err := d.signIn(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func newDirectory(cfg Config, opts Options) (*Directory, error) {
	authority, graph, err := cfg.endpoints()
	if err != nil {
		return nil, err
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = defaultMaxRetries
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = defaultMaxRetryWait
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = defaultRequestTimeout
	}
	base := opts.Transport
	if base == nil {
		base, err = newTransport(cfg.CAFile)
		if err != nil {
			return nil, err
		}
	}
	d := &Directory{cfg: cfg, opts: opts, authority: authority, graph: graph}
	d.transport = &attemptTimeout{next: base, timeout: opts.RequestTimeout}
	d.recorder = &signInRecorder{next: d.transport}

	d.cred, err = d.credential()
	if err != nil {
		return nil, err
	}
	graphURL, _ := url.Parse(graph)
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		d.cred, d.scopes(), []string{graphURL.Hostname()})
	if err != nil {
		return nil, err
	}
	httpClient := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(d.transport, d.middlewares()...),
		// The SDK's redirect handler follows redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, err
	}
	adapter.SetBaseUrl(graph + "/v1.0")
	// msgraph.NewGraphServiceClient assigns the SDK's global backing-store
	// factory on every call, a data race with any other client's requests
	// under way; passing nil keeps the (identical) default and skips the
	// write. The serializer registrations it makes are locked.
	clientMu.Lock()
	d.client = &msgraph.GraphServiceClient{GraphBaseServiceClient: *msgraph.NewGraphBaseServiceClient(adapter, nil)}
	clientMu.Unlock()
	return d, nil
}

// newTransport trusts the system roots (SSL_CERT_FILE and SSL_CERT_DIR
// apply) plus the certificates of caFile.
func newTransport(caFile string) (http.RoundTripper, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConnsPerHost = 8
	return t, nil
}

// middlewares is the Graph SDK's default pipeline (telemetry, URL
// replacement, retry, redirect, compression, parameter-name decoding, user
// agent, headers inspection) with the retry handler configured to honour
// and bound Retry-After and to report throttling.
func (d *Directory) middlewares() []khttp.Middleware {
	graphOpts := msgraph.GetDefaultClientOptions()
	mws := msgraphcore.GetDefaultMiddlewaresWithOptions(&graphOpts)
	retry := khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
		MaxRetries:   d.opts.MaxRetries,
		DelaySeconds: retryBaseDelay,
		ShouldRetry:  d.shouldRetry,
	})
	for i, mw := range mws {
		if _, ok := mw.(*khttp.RetryHandler); ok {
			mws[i] = retry
		}
	}
	return mws
}

// shouldRetry is the retry handler's last word on a 429, 503 or 504 it is
// about to retry: it refuses a Retry-After longer than MaxRetryWait, and
// reports the coming wait through OnThrottle.
func (d *Directory) shouldRetry(_ time.Duration, executionCount int, _ *http.Request, resp *http.Response) bool {
	wait, told := retryAfter(resp)
	if told && wait > d.opts.MaxRetryWait {
		return false
	}
	if !told {
		// The SDK's exponential back-off (plus up to a second of jitter).
		wait = time.Duration(retryBaseDelay*(1<<executionCount)) * time.Second
	}
	if d.opts.OnThrottle != nil {
		d.opts.OnThrottle(wait)
	}
	// The handler drops this response for the retry's: release its
	// connection now.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return true
}

// retryAfter reads Retry-After as the SDK's retry handler does: whole
// seconds, or an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return time.Until(t), true
	}
	return 0, false
}

// scopes asks for the app's configured Graph permissions.
func (d *Directory) scopes() []string { return []string{d.graph + "/.default"} }

// credential builds the azidentity credential for the configured auth.
func (d *Directory) credential() (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: d.authority},
		Transport: &http.Client{Transport: d.recorder},
	}
	// Instance discovery asks a fixed Microsoft address about the
	// authority; an overridden authority (a test server, a private cloud)
	// is taken as configured.
	noDiscovery := d.cfg.AuthorityHost != ""
	switch d.cfg.auth() {
	case AuthClientSecret:
		if d.cfg.ClientSecret == "" {
			return nil, errors.New("auth = \"client-secret\" but no client secret was loaded (client_secret_env or client_secret_file)")
		}
		return azidentity.NewClientSecretCredential(d.cfg.TenantID, d.cfg.ClientID, d.cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
	case AuthCertificate:
		if len(d.cfg.Certificate) == 0 {
			return nil, errors.New("auth = \"certificate\" but no certificate was loaded (certificate_file)")
		}
		var pw []byte
		if d.cfg.CertificatePassword != "" {
			pw = []byte(d.cfg.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(d.cfg.Certificate, pw)
		if err != nil {
			return nil, fmt.Errorf("certificate_file %s: %w", d.cfg.CertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(d.cfg.TenantID, d.cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
	default:
		prompt := d.opts.DeviceCodePrompt
		return azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions:            co,
			TenantID:                 d.cfg.TenantID,
			ClientID:                 d.cfg.ClientID,
			DisableInstanceDiscovery: noDiscovery,
			UserPrompt: func(ctx context.Context, m azidentity.DeviceCodeMessage) error {
				p := DeviceCodePrompt{VerificationURL: m.VerificationURL, UserCode: m.UserCode, Message: m.Message}
				if prompt == nil {
					fmt.Fprintln(os.Stderr, p.Message)
					return nil
				}
				prompt(ctx, p)
				return nil
			},
		})
	}
}

// signIn gets the first token. It asks for a CAE token, as the Graph
// client does, so that the device-code flow runs once: later requests are
// served from the in-memory cache (and refreshed silently).
func (d *Directory) signIn(ctx context.Context) error {
	tro := policy.TokenRequestOptions{Scopes: d.scopes(), EnableCAE: true}
	var err error
	if dc, ok := d.cred.(*azidentity.DeviceCodeCredential); ok {
		_, err = dc.Authenticate(ctx, &tro)
	} else {
		_, err = d.cred.GetToken(ctx, tro)
	}
	if err != nil {
		return d.signInError(ctx, err)
	}
	return nil
}

// Name is the tenant's configured name.
func (d *Directory) Name() string { return d.cfg.Name }

// Kind is directory.KindEntra.
func (d *Directory) Kind() directory.Kind { return directory.KindEntra }

// Config returns the configuration the directory was opened with, secrets
// removed.
func (d *Directory) Config() Config {
	c := d.cfg
	c.ClientSecret, c.Certificate, c.CertificatePassword = "", nil, ""
	return c
}

// Close releases idle connections. The tokens are forgotten with the
// Directory.
func (d *Directory) Close() error {
	if t, ok := d.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// attemptTimeout bounds one HTTP attempt, body included: a page that
// never arrives, or stops half-way, fails after timeout instead of hanging
// the import.
type attemptTimeout struct {
	next    http.RoundTripper
	timeout time.Duration
}

// errAttemptTimeout marks an attempt that ran out of time.
var errAttemptTimeout = errors.New("no answer in time")

func (t *attemptTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.timeout,
		fmt.Errorf("%w (%s)", errAttemptTimeout, t.timeout))
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		if cause := context.Cause(ctx); req.Context().Err() == nil && errors.Is(cause, errAttemptTimeout) {
			err = fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, cause)
		}
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{rc: resp.Body, cancel: cancel, ctx: ctx, parent: req.Context()}
	return resp, nil
}

func (t *attemptTimeout) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// cancelBody ends the attempt's context when the body is closed, and
// reports a body cut short by the attempt's timeout as such.
type cancelBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	ctx    context.Context
	parent context.Context
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && b.parent.Err() == nil {
		if cause := context.Cause(b.ctx); errors.Is(cause, errAttemptTimeout) {
			err = cause
		}
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
