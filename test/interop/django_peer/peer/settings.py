"""
A minimal djangorestframework-simplejwt deployment, the peer of restjwt's interop tests (test/interop/).

Everything the tests vary comes from the environment:
- PEER_DATABASE_URL  sqlite:///ABSOLUTE/PATH.sqlite3 or postgres://USER[:PASSWORD]@HOST[:PORT]/NAME (required)
- PEER_SIGNING_KEY   the HS256 key shared with restjwt (required)
- PEER_ROTATE        "1" (default) turns ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION on, "0" off
- PEER_PASSWORD_HASHER  pbkdf2_sha256 (default), argon2 or bcrypt_sha256: the hasher new passwords get
- PEER_CONN_MAX_AGE  seconds a database connection is kept between requests (Django's CONN_MAX_AGE); default 0,
                     a new connection per request (the benchmarks set it, as a production deployment would)
"""
import os
from datetime import timedelta
from urllib.parse import unquote, urlparse

SECRET_KEY = os.environ.get("PEER_DJANGO_SECRET_KEY", "django-peer-secret-not-used-for-tokens")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "peer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"
TEMPLATES = []


def _database(url):
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parsed.path)}
    if parsed.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
        }
    raise RuntimeError("PEER_DATABASE_URL must be sqlite:///PATH or postgres://USER@HOST:PORT/NAME")


DATABASES = {"default": _database(os.environ["PEER_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("PEER_CONN_MAX_AGE", "0"))
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_HASHERS = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
}
_preferred = _HASHERS[os.environ.get("PEER_PASSWORD_HASHER", "pbkdf2_sha256")]
PASSWORD_HASHERS = [_preferred] + [h for h in _HASHERS.values() if h != _preferred]

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

_rotate = os.environ.get("PEER_ROTATE", "1") == "1"
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "SLIDING_TOKEN_LIFETIME": timedelta(minutes=5),
    "SLIDING_TOKEN_REFRESH_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": _rotate,
    "BLACKLIST_AFTER_ROTATION": _rotate,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ["PEER_SIGNING_KEY"],
    "AUTH_HEADER_TYPES": ("Bearer",),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
