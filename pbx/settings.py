"""Settings come from the environment (see .env.example).

With nothing set, the project runs embedded: SQLite file, in-memory channel layer and cache,
console e-mail, a development SECRET_KEY that is refused when DEBUG is off.
"""

import contextlib
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
# The first look on one machine (`make run`): SQLite, in-memory layers, demo data allowed.
EMBEDDED = env_bool("PBX_EMBEDDED")
_DEV_SECRET = "embedded-dev-only-not-a-secret"  # noqa: S105 - refused below unless DEBUG
SECRET_KEY = os.environ.get("SECRET_KEY") or _DEV_SECRET
if SECRET_KEY == _DEV_SECRET and not DEBUG and not env_bool("PBX_EMBEDDED"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set (see .env.example) unless DEBUG=1.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "pbx.apps.PbxAdminConfig",  # django.contrib.admin with the task-organised site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",  # allauth.usersessions' page ("5 minutes ago")
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "allauth",
    "allauth.account",
    # Single sign-on (Microsoft Entra ID, Google, any OpenID Connect provider), per company: portal/sso.py.
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",  # two-factor: authenticator app, recovery codes, passkeys (portal/mfa.py: e-mail codes)
    "allauth.usersessions",  # "my sessions": see and end your other sign-ins
    "csp",
    "pbx",
    "pbx.notifications",
    "pbx.webhooks",
    "recording",
    "stats",
    "wallboard",
    "portal",
    "api",
]
SITE_ID = 1
# What mails (password reset, e-mail verification) call the product and its address: the Sites framework's
# row SITE_ID is set from these after every migrate (portal/apps.py), never left as example.com.
SITE_NAME = os.environ.get("SITE_NAME", "Växel")
SITE_DOMAIN = os.environ.get("VAXEL_DOMAIN") or (ALLOWED_HOSTS[0] if ALLOWED_HOSTS else "localhost")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files under daphne when DEBUG is off (no proxy needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pbx.middleware.CompanyTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: a person whose role needs two-factor reaches only the enrolment pages until done.
    "portal.mfa.RequireTwoFactorMiddleware",
    "csp.middleware.CSPMiddleware",
    # After CSP (its response passes here first): the sign-in services' origins join form-action on the
    # login pages; an expired password or an unaccepted licence agreement holds the person at that page.
    "portal.sso.SsoFormActionMiddleware",
    "portal.gate.SignInGateMiddleware",
]

ROOT_URLCONF = "pbx.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "pbx.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "pbx.User"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # The pub/sub layer: a group send is one PUBLISH, not one list push per member, and nothing is
    # dropped at a per-channel capacity; measured with `make bench` (push_*), it carries 2,000
    # events/s to 200 consoles where the list-based core layer fell behind and lost events.
    # Redis pub/sub channels are shared by every database number of a server, so the prefix carries the
    # URL's database (two deployments on /1 and /2 of one Redis hear none of each other's events or call
    # control commands); CHANNELS_PREFIX sets it outright.
    _redis_db = urlsplit(REDIS_URL).path.strip("/") or "0"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("CHANNELS_PREFIX") or f"pbx-db{_redis_db}"},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# huey: a real queue on Redis in production; immediate mode (runs in-process) when embedded.
HUEY = {
    "huey_class": "huey.RedisHuey" if REDIS_URL else "huey.MemoryHuey",
    "name": "pbx",
    "immediate": not REDIS_URL or env_bool("HUEY_IMMEDIATE"),
    "connection": {"url": REDIS_URL} if REDIS_URL else {},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Length, character classes and reuse by the person's company's policy (10 characters without one).
    {"NAME": "portal.passwords.CompanyPasswordPolicyValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "portal.passwords.SwedishCommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# allauth: e-mail + password now; MFA (allauth.mfa) and SSO (allauth.socialaccount) plug in here.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
# A person has one login address; a new one replaces it only once the link sent to it is opened
# (portal/emails.py: the company admin sets addresses, audited).
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_FORMS = {"add_email": "portal.emails.CompanyAddEmailForm", "confirm_login_code": "portal.mfa.EmailCodeForm",
                 "reset_password": "portal.auth.LoginAddressResetPasswordForm"}
ACCOUNT_ADAPTER = "portal.auth.NoSignupAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
# Failed logins are limited per address (10 a minute, 40 an hour: one address spraying one password over
# many accounts is slowed) and per account (5 in 5 minutes: a successful password reset lifts it, so an
# attacker cannot keep the owner out). Successful logins give their attempt back. The address is the real
# client's: see TRUSTED_PROXIES.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,40/h/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
}
# The proxies (addresses or networks) whose X-Forwarded-For is believed; from anyone else the header is
# ignored and the connection's own address counts (portal/auth.py: client_ip).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
# Single sign-on (portal/sso.py, docs/signin.md): the sign-in services are allauth SocialApps of the
# openid_connect provider (admin: Social applications); each company says which issuer and e-mail domains
# vouch for its people (SsoConnection). Never a new account: only existing people, by verified e-mail.
SOCIALACCOUNT_ADAPTER = "portal.sso.CompanySsoAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"OAUTH_PKCE_ENABLED": True}}
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"

# Two-factor (portal/mfa.py). A person's second step at login is, in this order of preference: a passkey or
# an authenticator app (allauth.mfa's stage), else a one-time code mailed to their login address (allauth's
# login-by-code stage, required by the adapter for people who chose it). Passwordless login by e-mail code
# stays off: the code is a second factor, never the only one.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_ADAPTER = "portal.mfa.PortalMFAAdapter"
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = SITE_NAME
# WebAuthn needs a secure context: HTTPS, or http://localhost (the embedded first look, the browser tests).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG or EMBEDDED
ACCOUNT_LOGIN_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 5 * 60  # seconds a mailed code holds
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3  # wrong codes before the login starts over (password again)
# Sessions are recorded at login (with address and browser), not touched on every page: no write per request.
USERSESSIONS_TRACK_ACTIVITY = False
USERSESSIONS_ADAPTER = "portal.mfa.SessionsAdapter"

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["pbx.formats"]  # English dates day-first with a 24-hour clock (pbx/formats/en)
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
# Prompts are converted into this directory; Asterisk sees it as sounds/custom.
ASTERISK_SOUNDS_DIR = Path(os.environ.get("ASTERISK_SOUNDS_DIR", BASE_DIR / "var" / "sounds"))
# The stock prompts Asterisk plays (Debian's asterisk-core-sounds-en, the same package the Asterisk image
# installs): the checker refuses a dialplan naming one that is not there. Empty: stock prompts unchecked.
ASTERISK_STOCK_SOUNDS_DIR = os.environ.get("ASTERISK_STOCK_SOUNDS_DIR", "/usr/share/asterisk/sounds/en")
ASTERISK_GENERATED_DIR = Path(os.environ.get("ASTERISK_GENERATED_DIR", BASE_DIR / "var" / "generated"))
RECORDINGS_DIR = Path(os.environ.get("RECORDINGS_DIR", BASE_DIR / "var" / "recordings"))
VOICEMAIL_DIR = Path(os.environ.get("VOICEMAIL_DIR", BASE_DIR / "var" / "voicemail"))
# Stored recordings (Opus, after post-processing) sit behind one storage (recording/storage.py): by default
# RECORDINGS_DIR/stored on local disk (outside the web root, no URL); with RECORDINGS_S3_BUCKET an
# S3-compatible bucket through django-storages (private objects, streamed through our view only).
RECORDINGS_S3_BUCKET = os.environ.get("RECORDINGS_S3_BUCKET", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if RECORDINGS_S3_BUCKET:
    STORAGES["recordings"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": RECORDINGS_S3_BUCKET,
            "endpoint_url": os.environ.get("RECORDINGS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("RECORDINGS_S3_REGION") or None,
            "access_key": os.environ.get("RECORDINGS_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("RECORDINGS_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("RECORDINGS_S3_PREFIX", "recordings"),
            "default_acl": "private",
            "file_overwrite": False,
        },
    }
PROMPT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# The default Asterisk node; more nodes live in the database (pbx.AsteriskNode).
ASTERISK_AMI_HOST = os.environ.get("ASTERISK_AMI_HOST", "127.0.0.1")
ASTERISK_AMI_PORT = int(os.environ.get("ASTERISK_AMI_PORT", "5038"))
ASTERISK_AMI_USER = os.environ.get("ASTERISK_AMI_USER", "orchestrator")
ASTERISK_AMI_SECRET = os.environ.get("ASTERISK_AMI_SECRET", "")
ASTERISK_ARI_URL = os.environ.get("ASTERISK_ARI_URL", "http://127.0.0.1:8088/ari")
ASTERISK_ARI_USER = os.environ.get("ASTERISK_ARI_USER", "orchestrator")
ASTERISK_ARI_PASSWORD = os.environ.get("ASTERISK_ARI_PASSWORD", "")
ASTERISK_ARI_APP = os.environ.get("ASTERISK_ARI_APP", "orchestrator")
# asterisk_conf/sorcery.conf gives PJSIP a writable memory wizard, so new phones are created
# through ARI instead of reloading res_pjsip. Set to 0 for an Asterisk without it.
ASTERISK_PJSIP_DYNAMIC = env_bool("ASTERISK_PJSIP_DYNAMIC", default=True)
# SIP trunks are recognised by the provider's addresses before any authentication (pjsip identify),
# so they may name only narrow public networks: at least this prefix length...
PBX_TRUNK_MIN_PREFIX_V4 = int(os.environ.get("PBX_TRUNK_MIN_PREFIX_V4", "24"))
PBX_TRUNK_MIN_PREFIX_V6 = int(os.environ.get("PBX_TRUNK_MIN_PREFIX_V6", "48"))
# ...and never the stack's own networks (comma-separated; the node's public address belongs here).
# Loopback, private and reserved ranges are refused whatever this says (pbx/validators.py).
# A typo here stops the start (ValueError) rather than leaving the node unprotected.
# ASTERISK_STACK_NETS (the networks allowed to reach AMI/ARI) count as the stack's too.
PBX_STACK_NETWORKS = [
    str(ipaddress.ip_network(n, strict=False))
    for n in (os.environ.get("PBX_STACK_NETWORKS", "127.0.0.0/8,::1/128") + ","
              + os.environ.get("ASTERISK_STACK_NETS", "")).replace(",", " ").split()
]
with contextlib.suppress(ValueError):  # a host name there is resolved by Asterisk, not known here
    PBX_STACK_NETWORKS.append(str(ipaddress.ip_network(os.environ.get("ASTERISK_EXTERNAL_ADDRESS", ""))))
# How long a call-control action waits for the event bridge to carry it out through AMI.
ASTERISK_CONTROL_TIMEOUT = float(os.environ.get("ASTERISK_CONTROL_TIMEOUT", "10"))

# What a phone is told on its device page, in its provisioning file and QR code: the SIP server's public name
# (ASTERISK_EXTERNAL_ADDRESS when set, else the web's domain), its port and transport (pjsip.conf's
# transport-udp and transport-tcp listen on 5060).
SIP_PUBLIC_HOST = os.environ.get("SIP_PUBLIC_HOST") or os.environ.get("ASTERISK_EXTERNAL_ADDRESS") or SITE_DOMAIN
SIP_PUBLIC_PORT = int(os.environ.get("SIP_PUBLIC_PORT") or "5060")
SIP_TRANSPORT = os.environ.get("SIP_TRANSPORT", "udp").lower()
if SIP_TRANSPORT not in ("udp", "tcp", "tls"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SIP_TRANSPORT must be udp, tcp or tls.")
# The provisioning URLs' origin (phones fetch their file there); default https://<SITE_DOMAIN>.
PROVISIONING_BASE_URL = os.environ.get("PROVISIONING_BASE_URL", "")

# E-mail (voicemail, callback requests, queue alerts: pbx.notifications, sent by the worker). With an
# EMAIL_HOST the default is real SMTP; without one (embedded) mails are printed to the console.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT") or "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT") or "20")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "vaxel@localhost")

# SMS (pbx.notifications.gateways): "46elks" sends through 46elks' HTTP API, "log" only logs (development).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "log")
SMS_SENDER = os.environ.get("SMS_SENDER", "Vaxel")
SMS_46ELKS_USERNAME = os.environ.get("SMS_46ELKS_USERNAME", "")
SMS_46ELKS_PASSWORD = os.environ.get("SMS_46ELKS_PASSWORD", "")
SMS_46ELKS_URL = os.environ.get("SMS_46ELKS_URL", "https://api.46elks.com/a1/sms")

# Webhooks (pbx.webhooks, docs/webhooks.md): delivered by the worker to the companies' endpoints. Never to
# loopback, private, link-local or this server's own addresses, nor WEBHOOK_BLOCKED_NETWORKS (e.g. the stack's
# public addresses), unless the platform's operator allows a network in WEBHOOK_ALLOWED_NETWORKS.
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS")
WEBHOOK_BLOCKED_NETWORKS = env_list("WEBHOOK_BLOCKED_NETWORKS")
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", default=DEBUG or EMBEDDED)
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS") or "10")
# Requests a worker has in flight at once (each to the head of a different call's stream).
WEBHOOK_CONCURRENCY = int(os.environ.get("WEBHOOK_CONCURRENCY") or "8")
# Seconds to wait after each failed try (the Standard Webhooks schedule: 27 h 35 min in all).
WEBHOOK_RETRY_SCHEDULE = [int(v) for v in env_list("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")]
# While an endpoint fails, its oldest waiting delivery is tried this often (not counted as a try).
WEBHOOK_PROBE_SECONDS = float(os.environ.get("WEBHOOK_PROBE_SECONDS") or "30")

# The REST API (api/, docs/api.md): keys or the browser session, company-scoped, keyset pagination, problem
# details. API_THROTTLE_RATE is each key's (each person's, for the session) budget.
# drf-spectacular's W001 is about the names of enums in the generated schema (cosmetic), not the deployment.
SILENCED_SYSTEM_CHECKS = ["drf_spectacular.W001"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.CompanyMember"],
    "DEFAULT_PAGINATION_CLASS": "api.conventions.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend",
                                "api.conventions.StrictOrderingFilter"],
    "DEFAULT_THROTTLE_CLASSES": ["api.conventions.PerCredentialThrottle"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "1200/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Växel API",
    "DESCRIPTION": "The switchboard's REST API: see docs/api.md. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_problem_component"],
}

# Secure by default: a deployment (not DEBUG, not the embedded first look on http://127.0.0.1) is served over
# HTTPS by the compose stack's Caddy, so cookies never travel over plain HTTP and browsers are told to come
# back over HTTPS only. Each can be turned off by its variable (e.g. a plain-HTTP test stack).
SECURE_BY_DEFAULT = not DEBUG and not EMBEDDED
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=SECURE_BY_DEFAULT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=SECURE_BY_DEFAULT)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if SECURE_BY_DEFAULT else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_BY_DEFAULT)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=SECURE_BY_DEFAULT)
SECURE_REFERRER_POLICY = "same-origin"
if TRUSTED_PROXIES:
    # Only the proxy reaches the web (compose publishes Caddy, never Daphne); it says whether the browser
    # spoke HTTPS to it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp 4): nothing but the product's own files. No inline script or style
# anywhere (colours of statuses are set from data attributes by the page's script); the console's
# websocket is same-origin ('self' covers ws:/wss: of the page's host).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
