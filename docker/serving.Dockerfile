# The kanri serving runtime: `kanri serve` with the predictor code under /srv/predictor, and nothing of the
# console. Build with BuildKit (docker buildx build, or DOCKER_BUILDKIT=1 docker build):
#
#   docker build -f docker/serving.Dockerfile -t REGISTRY/kanri:VERSION .
#   docker build -f docker/serving.Dockerfile --build-arg EXTRAS=sklearn --build-arg STORES= -t ... .
#
# EXTRAS: kanri's extras beside the runtime (default sklearn,tracing,jwt: scikit-learn predictors, OTLP traces,
# without which OTEL_EXPORTER_OTLP_ENDPOINT stops the runtime, and JWT checks of callers); STORES: the fsspec filesystems of the model
# stores it reads (default s3fs gcsfs: s3:// and gs://; empty when models sit on a mounted volume).
# Versions come from docker/constraints.txt (scripts/image_constraints.py).
#
# The predictor code comes from one of three places (reference it as module:Class, /srv/predictor is on PYTHONPATH):
#   - a mounted path:  docker run -v $PWD/digits:/srv/predictor/digits REGISTRY/kanri:VERSION --predictor digits.predictor:Digits
#   - a derived image: FROM REGISTRY/kanri:VERSION, then COPY --chown=10001:10001 digits /srv/predictor/digits
#                      (and USER root, RUN pip install the model's libraries, USER 10001), registered with
#                      `kanri app create --image`
#   - a git repository cloned at pod start by the fetch-predictor init container (docker/fetch.Dockerfile), when
#     the application's ConfigMap kanri-source-APP names GIT_URL and GIT_BRANCH (see manifests/): into a volume of
#     its own, /srv/fetched-predictor, which the pods put ahead of /srv/predictor on PYTHONPATH
# Everything else is configured by KANRI_* variables, as the Deployments kanri renders set them.

# The requirements of the extras asked for, from pyproject.toml: only a change to them reinstalls the
# dependencies (the version or the description changing does not).
FROM python:3.11-slim-bookworm AS requirements
ARG EXTRAS=sklearn,tracing,jwt
ARG STORES="s3fs gcsfs"
COPY pyproject.toml docker/requirements.py /tmp/
RUN { python /tmp/requirements.py /tmp/pyproject.toml "$EXTRAS" && printf '%s\n' $STORES; } > /tmp/requirements.txt

# The dependencies, before any source: a virtual environment the runtime copies whole.
FROM python:3.11-slim-bookworm AS dependencies
COPY docker/constraints.txt /tmp/
COPY --from=requirements /tmp/requirements.txt /tmp/
RUN python -m venv /opt/kanri \
    && /opt/kanri/bin/pip install --no-cache-dir --constraint /tmp/constraints.txt --requirement /tmp/requirements.txt

# kanri's wheel, of the runtime's sources alone, built by the pinned setuptools.
FROM dependencies AS wheel
COPY pyproject.toml setup.py README.md /src/
COPY serving /src/serving
RUN PIP_CONSTRAINT=/tmp/constraints.txt /opt/kanri/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /src

FROM python:3.11-slim-bookworm
RUN groupadd --gid 10001 kanri \
    && useradd --uid 10001 --gid kanri --home-dir /home/kanri --create-home --shell /usr/sbin/nologin kanri \
    && mkdir -p /srv/predictor && chown kanri:kanri /srv/predictor
COPY --from=dependencies /opt/kanri /opt/kanri
# The wheel is mounted, not copied: the layer holds the installed package only.
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    /opt/kanri/bin/pip install --no-cache-dir --no-deps /wheels/*.whl
USER 10001:10001
# The ports are those of the Deployments kanri renders: gRPC, HTTP/JSON (also the probes before Kubernetes
# 1.24), metrics.
ENV PATH=/opt/kanri/bin:$PATH \
    PYTHONPATH=/srv/predictor \
    PYTHONUNBUFFERED=1 \
    KANRI_HOST=0.0.0.0 \
    KANRI_PORT=50051 \
    KANRI_HTTP_PORT=8080 \
    KANRI_METRICS_PORT=9102
WORKDIR /srv/predictor
EXPOSE 50051 8080 9102

# Exec form: kanri serve is PID 1 and handles SIGTERM itself (drains, then exits 0); the Deployments kanri
# renders run the same command.
ENTRYPOINT ["kanri", "serve"]
