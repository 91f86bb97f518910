# The kanri serving runtime: `kanri serve` with the predictor code under /srv/predictor.
#
#   docker build -f docker/serving.Dockerfile -t REGISTRY/kanri:VERSION .
#
# The predictor code comes from one of three places (reference it as module:Class, /srv/predictor is on PYTHONPATH):
#   - a mounted path:  docker run -v $PWD/digits:/srv/predictor/digits REGISTRY/kanri:VERSION --predictor digits.predictor:Digits
#   - a derived image: FROM REGISTRY/kanri:VERSION, then COPY --chown=10001:10001 digits /srv/predictor/digits
#                      (and RUN pip install --user the model's libraries), registered with `kanri app create --image`
#   - a git repository cloned at pod start by the fetch-predictor init container (kanri-fetch-predictor), when the
#     application's ConfigMap kanri-source-APP names GIT_URL and GIT_BRANCH (see manifests/): into a volume of its
#     own, /srv/fetched-predictor, which the pods put ahead of /srv/predictor on PYTHONPATH
# Everything else is configured by KANRI_* variables, as the Deployments kanri renders set them.
FROM python:3.11-slim-bookworm

# git: the init container clones predictor repositories with this same image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kanri
COPY pyproject.toml README.md ./
COPY serving ./serving
COPY console ./console
# console/demo/digits links here: the example `kanri demo` trains and serves ships in the package.
COPY examples/digits ./examples/digits
# [sklearn]: the runtime's own predictors of scikit-learn models; s3fs and gcsfs: model stores in object storage.
RUN pip install --no-cache-dir ".[sklearn]" s3fs gcsfs

COPY docker/kanri-fetch-predictor /usr/local/bin/kanri-fetch-predictor

RUN groupadd --gid 10001 kanri \
    && useradd --uid 10001 --gid kanri --home-dir /home/kanri --create-home --shell /usr/sbin/nologin kanri \
    && mkdir -p /srv/predictor && chown kanri:kanri /srv/predictor
USER 10001:10001
ENV PYTHONPATH=/srv/predictor \
    PYTHONUNBUFFERED=1 \
    KANRI_HOST=0.0.0.0 \
    KANRI_PORT=50051 \
    KANRI_METRICS_PORT=9102
WORKDIR /srv/predictor
EXPOSE 50051 9102

ENTRYPOINT ["kanri", "serve"]
