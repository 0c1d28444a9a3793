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
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libmagic1 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 smart
ENV PATH=/venv/bin:$PATH \
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
 && mkdir -p /var/lib/smart-portal/media \
 && chown -R smart:smart /var/lib/smart-portal
USER smart
EXPOSE 8000
CMD ["gunicorn", "smart_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120", "--access-logfile", "-"]
