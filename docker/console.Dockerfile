# The kanri console for operators inside the cluster: the Deployment in manifests/base/console idles, and
#
#   kubectl -n kanri exec -it deploy/kanri-console -- kanri service list
#
# runs the CLI with the pod's ServiceAccount (in-cluster configuration, the kanri-console Role) and the
# registry, model store, Prometheus and Elasticsearch settings the Deployment passes as KANRI_* variables.
#
#   docker build -f docker/console.Dockerfile -t REGISTRY/kanri-console:VERSION .
FROM python:3.11-slim-bookworm

WORKDIR /opt/kanri
COPY pyproject.toml README.md ./
COPY serving ./serving
COPY console ./console
# console/demo/digits links here: the example `kanri demo` trains and serves ships in the package.
COPY examples/digits ./examples/digits
# s3fs and gcsfs: uploads to a model store in object storage.
RUN pip install --no-cache-dir ".[console]" s3fs gcsfs

RUN groupadd --gid 10001 kanri \
    && useradd --uid 10001 --gid kanri --home-dir /home/kanri --create-home --shell /bin/bash kanri
USER 10001:10001
ENV PYTHONUNBUFFERED=1 \
    KANRI_CLUSTER=kubernetes \
    TERM=xterm-256color
WORKDIR /home/kanri

# A shell that waits for operators: `kubectl exec` into it; every kanri command is a process of its own.
ENTRYPOINT ["sleep", "infinity"]
