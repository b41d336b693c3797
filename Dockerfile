# Production image: gunicorn serving app:server as a non-root user.
# Configure with DATABASE_URL (postgresql+psycopg://...) and SECRET_KEY; run `billing-dash db upgrade` once.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --create-home --uid 10001 billing
COPY pyproject.toml README.md ./
COPY billing_dash ./billing_dash
COPY queries ./queries
COPY assets ./assets
COPY app.py ./
RUN pip install -e . && mkdir -p /app/instance && chown billing /app/instance

USER billing
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/healthz')"
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--workers", "4", "--access-logfile", "-", "app:server"]
