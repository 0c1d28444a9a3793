# SMART Portal image: one image for web (gunicorn), Celery worker and beat. See docker-compose.yml.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir --upgrade pip \
 && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# postgresql-client-15: pg_dump and pg_restore of the same major version as the server (`manage.py
# backup` / `restore`, docker-compose.yml's postgres:15).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libmagic1 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core \
    postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 smart
# The git revision, recorded in backups' manifests (the build context has no .git).
ARG PORTAL_REVISION=""
ENV PATH=/venv/bin:$PATH \
    PORTAL_REVISION=$PORTAL_REVISION \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=smart_portal.settings \
    VAR_DIR=/var/lib/smart-portal \
    STATIC_ROOT=/app/staticfiles
COPY --from=build /venv /venv
WORKDIR /app
COPY . .
# Static files are collected (hashed and compressed) at build time; WhiteNoise serves them.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
 && mkdir -p /var/lib/smart-portal/media /var/lib/smart-portal/backups /var/lib/smart-portal/beat \
 && chown -R smart:smart /var/lib/smart-portal
USER smart
EXPOSE 8000
# The access log line ends with the request's X-Request-ID, as the portal's own log lines carry it.
# Threaded workers: a streamed CSV download of every reading takes minutes, and a sync worker busy that
# long would be killed at --timeout mid-file; a gthread worker keeps answering the arbiter meanwhile.
CMD ["gunicorn", "smart_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-class", "gthread", "--threads", "4", "--timeout", "120", \
     "--access-logfile", "-", \
     "--access-logformat", "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\" %(M)sms request_id=%({x-request-id}o)s"]
