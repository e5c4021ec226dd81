"""Gunicorn settings for the signage server, installed as /etc/signage-server/gunicorn.conf.py.

Sync workers, as many as ``2 × cores + 1`` (gunicorn's own rule of thumb: while one worker
waits on PostgreSQL another runs). Cores are the ones this process may use (CPU affinity and
cgroup pinning included), not the machine's. ``WEB_CONCURRENCY`` in /etc/signage-server/env
overrides the count, ``GUNICORN_BIND`` the address nginx proxies to.

nginx buffers request bodies (uploads up to 512 MB) and responses, so a slow client never
holds a sync worker; ``timeout`` only catches a stuck request.
"""

import os


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_for(cores: int, override: str | None) -> int:
    """``WEB_CONCURRENCY`` when set, else 2 × cores + 1."""
    if override and override.strip():
        return max(1, int(override))
    return 2 * cores + 1


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = workers_for(_usable_cores(), os.environ.get("WEB_CONCURRENCY"))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
# A worker is replaced after this many requests (with jitter so they do not all restart at
# once): a slow leak then never grows into an outage.
max_requests = 20000
max_requests_jitter = 2000
# Only nginx on this host talks to gunicorn; trust its X-Forwarded-* headers.
forwarded_allow_ips = "127.0.0.1,::1"
proc_name = "signage-server"
# nginx keeps the access log; errors go to stderr, which systemd sends to the journal.
accesslog = None
errorlog = "-"
