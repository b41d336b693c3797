# Production image: gunicorn serving app:server as a non-root user, installed from the wheel with the
# exact dependency versions of requirements.lock.
# Configure with DATABASE_URL (postgresql+psycopg://...) and SECRET_KEY; run `billing-dash db upgrade` once.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
# The build backend from the lock too (without isolation), so the wheel is built the same way every time.
RUN pip install -c requirements.lock setuptools
COPY pyproject.toml README.md ./
COPY billing_dash ./billing_dash
RUN pip wheel --no-deps --no-build-isolation -w /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 billing
WORKDIR /app
COPY --from=build /src/requirements.lock /wheels/ /tmp/install/
RUN pip install -c /tmp/install/requirements.lock /tmp/install/*.whl && rm -rf /tmp/install \
    && mkdir /app/instance && chown billing /app/instance
# The WSGI entry point (not part of the package); instance/ is under the working directory.
COPY app.py ./

USER billing
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/healthz')"
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--workers", "4", "--access-logfile", "-", "app:server"]
