"""A real Docker engine for tests: Debian's docker.io (dockerd 20.10), installed when missing and started
privately without touching the host's network (engine.py); the stand-in base images made with debootstrap,
since no registry can be pulled from (base_images.py); containers on the host's network, always removed
(containers.py). Tests take the session fixture `docker_engine` (fixture.py). The recipe and its
measurements: docs/images.md."""
