"""The module `celery -A workers.celery_app` imports (Flower, `celery inspect`, ...).

The one place an app is built at import time, because Celery's command line needs it.
`taskbeat worker` does not use this module.
"""

from __future__ import annotations

import os

from taskbeat.settings import Settings
from workers.app import create_worker_app

app = create_worker_app(Settings.from_env(os.environ))
