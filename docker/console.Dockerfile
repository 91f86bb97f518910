# The kanri console for operators inside the cluster: the Deployment in manifests/base/console idles, and
#
#   kubectl -n kanri exec -it deploy/kanri-console -- kanri service list
#
# runs the CLI with the pod's ServiceAccount (in-cluster configuration, the kanri-console Role) and the
# registry, model store, Prometheus and Elasticsearch settings the Deployment passes as KANRI_* variables.
# Build with BuildKit (docker buildx build, or DOCKER_BUILDKIT=1 docker build):
#
#   docker build -f docker/console.Dockerfile -t REGISTRY/kanri-console:VERSION .
#
# EXTRAS and STORES as in serving.Dockerfile; the console uploads models to the store. Versions come from
# docker/constraints.txt.

FROM python:3.11-slim-bookworm AS requirements
ARG EXTRAS=console
ARG STORES="s3fs gcsfs"
COPY pyproject.toml docker/requirements.py /tmp/
RUN { python /tmp/requirements.py /tmp/pyproject.toml "$EXTRAS" && printf '%s\n' $STORES; } > /tmp/requirements.txt

FROM python:3.11-slim-bookworm AS dependencies
COPY docker/constraints.txt /tmp/
COPY --from=requirements /tmp/requirements.txt /tmp/
RUN python -m venv /opt/kanri \
    && /opt/kanri/bin/pip install --no-cache-dir --constraint /tmp/constraints.txt --requirement /tmp/requirements.txt

FROM dependencies AS wheel
COPY pyproject.toml setup.py README.md /src/
COPY serving /src/serving
COPY console /src/console
# console/demo/digits links here: the example `kanri demo` trains and serves ships in the package.
COPY examples/digits /src/examples/digits
RUN PIP_CONSTRAINT=/tmp/constraints.txt /opt/kanri/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /src

FROM python:3.11-slim-bookworm
# tini as PID 1: it ends on SIGTERM (sleep alone would ignore it and wait out the grace period), and reaps
# what the processes of `kubectl exec` leave behind.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 kanri \
    && useradd --uid 10001 --gid kanri --home-dir /home/kanri --create-home --shell /bin/bash kanri
COPY --from=dependencies /opt/kanri /opt/kanri
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    /opt/kanri/bin/pip install --no-cache-dir --no-deps /wheels/*.whl
USER 10001:10001
ENV PATH=/opt/kanri/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KANRI_CLUSTER=kubernetes \
    TERM=xterm-256color
WORKDIR /home/kanri

# A shell that waits for operators: `kubectl exec` into it; every kanri command is a process of its own.
# tini exits 143 when SIGTERM ends sleep: -e 143 makes that a clean exit, 0.
ENTRYPOINT ["tini", "-e", "143", "--"]
CMD ["sleep", "infinity"]
