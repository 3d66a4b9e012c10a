"""Local development: `make run`. Debug on unless DEBUG says otherwise."""

from site_config.env import env_bool

from .base import *  # noqa: F403
from .base import SECRET_KEY

DEBUG = env_bool("DEBUG", True)

# Local only; production.py refuses to start without a real one.
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-not-for-production"
