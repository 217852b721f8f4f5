"""Settings for the web app and the workers alike, read from the environment.

Every AWS resource name derives from APP_NAME and APP_STAGE, the same way template.yaml
names them, so the web stage and the workers meet on the same queues, table and bucket
without anyone copying URLs or ARNs after a deploy. Each name can still be overridden.
"""

from datetime import timedelta
from pathlib import Path

from django_app.csp import policy as csp_policy
from django_app.database.config import default_database
from django_app.env import env_bool, env_int, env_list, env_str, secret_key
from django_app.hosts import allowed_hosts
from sqs_tasks.infra.task_queues import queue_names
from sqs_tasks.limits import Rate

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = secret_key(DEBUG)
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
# Deployed, the stage's own domain only, or no start at all (django_app/hosts.py).
ALLOWED_HOSTS = allowed_hosts()
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

APP_NAME = env_str("APP_NAME", "app")
APP_STAGE = env_str("APP_STAGE", "dev")
RESOURCE_PREFIX = f"{APP_NAME}-{APP_STAGE}"
AWS_REGION = env_str("AWS_REGION") or env_str("AWS_DEFAULT_REGION", "us-east-1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "sqs_tasks",
    "django_app",
    "django_app.maintenance",
    "django_app.accounts",
    "django_app.jobs",
    "django_app.reports",
    "django_app.rates",
    "axes",
]

MIDDLEWARE = [
    "sqs_tasks.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "django_app.urls"
WSGI_APPLICATION = "django_app.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL (SQLite by default), or when deployed DATABASE_SECRET_ARN: an RDS/Aurora
# secret read on first connect, once per execution environment. Connections are closed
# after each request and task (CONN_MAX_AGE 0) with health checks on: a frozen Lambda
# environment cannot close what it keeps, so a kept connection would count against the
# database's max_connections for the environment's whole life (django_app/database/config.py).
DATABASES = {"default": default_database(str(BASE_DIR / "db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every Lambda instance: the database's cache table by default (a migration
# creates it), or any backend named by DJANGO_CACHE_BACKEND and DJANGO_CACHE_LOCATION,
# e.g. django.core.cache.backends.redis.RedisCache and redis://host:6379.
CACHES = {
    "default": {
        "BACKEND": env_str("DJANGO_CACHE_BACKEND", "django.core.cache.backends.db.DatabaseCache"),
        "LOCATION": env_str("DJANGO_CACHE_LOCATION", "django_cache"),
    }
}

# ---------------------------------------------------------------- password guessing
# django-axes counts failed logins (the site's and the admin's: both authenticate through
# these backends) in its own tables, one row per address and per username, updated in a
# transaction with a row lock: parallel guesses are all counted. After AXES_FAILURE_LIMIT
# failures from one client address, or against one username from anywhere, logins are
# refused (HTTP 429, accounts/locked.html) until AXES_COOLOFF_TIME has passed without a
# failure. The client's address is API Gateway's record of the connection, never a
# header the client sets (django_app/accounts/client_ip.py). `manage.py axes_reset_username
# NAME` (or _ip) lifts a lockout early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "django_app.accounts.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_RESET_ON_SUCCESS = False  # a good login must not wipe a guessing script's count
# Sign-up attempts per client address and hour (django_app/accounts/throttle.py), and the
# link that confirms an address before the app mails it (django_app/accounts/verification.py).
ACCOUNTS_SIGNUPS_PER_HOUR = env_int("ACCOUNTS_SIGNUPS_PER_HOUR", 10)
ACCOUNTS_VERIFY_LINK_MAX_AGE = env_int("ACCOUNTS_VERIFY_LINK_MAX_AGE", 3 * 24 * 3600)
ACCOUNTS_VERIFY_RESEND = env_int("ACCOUNTS_VERIFY_RESEND", 600)  # seconds between links

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The app speaks English only: the Lambda packages ship these languages' translations and
# no others (stack/allowlist.py).
LANGUAGES = [("en", "English")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = env_str("DJANGO_STATIC_URL", "static/")
STATIC_ROOT = BASE_DIR / "staticfiles"
# Scripts and styles from the static files only: no inline code (django_app/csp.py).
SECURE_CSP = csp_policy(STATIC_URL)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# ---------------------------------------------------------------- the web app
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "reports:index"
LOGOUT_REDIRECT_URL = "accounts:login"
# Tasks have no request to build links from: emails link to pages under this URL
# (on API Gateway, the stage URL including its /<stage> path).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
REPORTS_MAX_UPLOAD_BYTES = env_int("REPORTS_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
REPORTS_UPLOAD_FORM_EXPIRY = env_int("REPORTS_UPLOAD_FORM_EXPIRY", 3600)  # seconds
REPORTS_MAX_IN_FLIGHT = env_int("REPORTS_MAX_IN_FLIGHT", 2)  # per user (jobs.in_flight)
REPORTS_MAX_FILES = env_int("REPORTS_MAX_FILES", 10)  # files one report may combine
RATES_API_URL = env_str("RATES_API_URL", "https://api.frankfurter.dev/v1/latest")
RATES_API_TIMEOUT = env_int("RATES_API_TIMEOUT", 10)  # seconds per HTTP call
RATES_API_CALLS_PER_MINUTE = env_int("RATES_API_CALLS_PER_MINUTE", 30)  # all workers
RATES_API_BURST = env_int("RATES_API_BURST", 5)
RATES_MAX_IN_FLIGHT = env_int("RATES_MAX_IN_FLIGHT", 2)  # refreshes per user at once
# The DynamoDB table of shared rate limits (token buckets), named as template.yaml does.
RATE_LIMIT_TABLE = env_str("RATE_LIMIT_TABLE", f"{RESOURCE_PREFIX}-rate-limits")

# The workers' EMF metrics namespace (template.yaml: ${AppName}-${Stage}), read back for
# the task overview and queue health.
# Modules with tasks beyond the installed apps' `tasks` modules (where workers look): a
# message may only name a task declared there.
SQS_TASKS_MODULES = env_list("SQS_TASKS_MODULES")
TASKS_METRICS_NAMESPACE = env_str("POWERTOOLS_METRICS_NAMESPACE", RESOURCE_PREFIX)
# Priority lanes: priority 1..100 on the default queue goes to its express lane, the SQS
# queue default-express, with a worker of its own and reserved concurrency (template.yaml
# declares it among TaskQueues; `manage.py check --tag tasks` fails when it does not).
PRIORITY_LANES = {"default": {"express": (1, 100)}}
LANE_QUEUES = {f"{queue}-{lane}" for queue, lanes in PRIORITY_LANES.items() for lane in lanes}
# The task queues are declared once, in template.yaml (README, "Adding a queue"): deployed,
# the functions and the web package carry their names in TASK_QUEUES; in a checkout they
# are read from the template itself. Lanes are declared there too, but are no queue a task
# names.
TASKS = {
    "default": {
        "BACKEND": "sqs_tasks.backends.sqs.SQSBackend",
        "QUEUES": [
            queue
            for queue in env_list("TASK_QUEUES") or queue_names(BASE_DIR / "template.yaml")
            if queue not in LANE_QUEUES
        ],
        "OPTIONS": {
            # SQS queue name = prefix + Django queue name, as template.yaml names them.
            "QUEUE_NAME_PREFIX": env_str("TASKS_QUEUE_NAME_PREFIX", f"{RESOURCE_PREFIX}-"),
            "TABLE_NAME": env_str("TASKS_TABLE", f"{RESOURCE_PREFIX}-tasks"),
            # Deployed, the keys that sign task messages are a secret of their own, read at
            # run time (template.yaml names it); locally, SECRET_KEY signs.
            "SIGNING_SECRET_ID": env_str("TASKS_SIGNING_SECRET_ID"),
            # The counters of the tasks' concurrency and rate limits (sqs_tasks/limits/),
            # and the limits tasks share by name.
            "LIMITS_TABLE": RATE_LIMIT_TABLE,
            "LIMITS": {
                "exchange-api": Rate(
                    RATES_API_CALLS_PER_MINUTE, per="minute", burst=RATES_API_BURST
                ),
            },
            "BUCKET_NAME": env_str("TASKS_BUCKET", f"{RESOURCE_PREFIX}-payloads"),
            "PRIORITY_LANES": PRIORITY_LANES,
            "MAX_ATTEMPTS": 3,
            "TIMEOUT": 60,
        },
    }
}

# ---------------------------------------------------------------- email
# SES through django-ses when deployed (the functions' roles may ses:SendEmail from the
# account's verified identities), the console when DEBUG. django-ses reads its AWS_SES_*
# settings, so MAILERS needs no OPTIONS and DJANGO_EMAIL_BACKEND can name any backend.
# The local stack's AWS_ENDPOINT_URL (moto) wins over SES's regional endpoint, as for boto3.
MAILERS = {
    "default": {
        "BACKEND": env_str(
            "DJANGO_EMAIL_BACKEND",
            "django.core.mail.backends.console.EmailBackend" if DEBUG else "django_ses.SESBackend",
        )
    }
}
DEFAULT_FROM_EMAIL = SERVER_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "webmaster@localhost")
USE_SES_V2 = True
# No pacing inside a send (it costs a GetAccount call per connection and sleeps on billed
# Lambda time): a throttled send raises, and the sending task's retry backs off instead.
AWS_SES_AUTO_THROTTLE = None
AWS_SES_REGION_NAME = AWS_REGION
AWS_SES_REGION_ENDPOINT_URL = (
    env_str("AWS_ENDPOINT_URL") or f"https://email.{AWS_REGION}.amazonaws.com"
)
# Set by the local system only: where it keeps the emails SES accepted, listed for staff
# at /outbox/ (django_app/outbox.py). Unset, that page does not exist.
LOCAL_OUTBOX_DIR = env_str("LOCAL_OUTBOX_DIR")

# ---------------------------------------------------------------- maintenance
OPERATOR_EMAILS = env_list("OPERATOR_EMAILS")  # who gets the daily failed-tasks digest
UPLOADS_RETENTION_DAYS = env_int("UPLOADS_RETENTION_DAYS", 30)  # then uploads/ is purged
# The daily backup (backups/ in a bucket of its own, template.yaml's BackupsBucket, which
# only the backup task's worker may write): where, how long one is kept, and what it leaves
# out: "app" or "app.model" labels (migrate recreates content types and permissions;
# sessions are short-lived bearer credentials; a restored outbox would send its tasks again).
BACKUP_BUCKET = env_str("BACKUP_BUCKET", f"{RESOURCE_PREFIX}-backups")
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 35)
BACKUP_EXCLUDE = env_list("BACKUP_EXCLUDE", "contenttypes,auth.permission,sessions,sqs_tasks")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # One JSON object per line: what CloudWatch Logs Insights queries.
        "json": {"()": "aws_lambda_powertools.logging.formatter.LambdaPowertoolsFormatter"},
    },
    "filters": {"task_context": {"()": "sqs_tasks.log_context.ContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["task_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # botocore announces where it found credentials on every client: noise in task logs.
        "botocore": {"level": "WARNING"},
        # Django's own "Task id=... state=RUNNING/SUCCESSFUL" lines repeat the worker's
        # "task attempt finished" line (outcome, attempt, duration): two log events a task,
        # a third of the log bytes CloudWatch bills per task (BENCHMARKS.md, section 8). A
        # task that fails for good is still logged here (ERROR, with its traceback).
        "django.tasks": {"level": env_str("DJANGO_TASKS_LOG_LEVEL", "WARNING")},
    },
}

if not DEBUG:
    # API Gateway terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Only the local stack, served over plain http on loopback, turns these off.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
