"""The command line a user pastes to call the demo over HTTP: one held-out digit to kanri's Predict in JSON."""

from __future__ import annotations

import json
import os
import shlex

from kanri.serving.auth import PREDICT_TOKEN_VARIABLE

PREDICT_PATH = "/kanri/v1/predict"


def curl_line(http_address: str, image: list[int]) -> str:
    """http_address: a route's base URL ("http://127.0.0.1:PORT"). When the replicas ask for a token
    (KANRI_PREDICT_TOKEN), the line sends it by the variable's name: the secret itself is never printed."""
    token = f' -H "Authorization: Bearer ${PREDICT_TOKEN_VARIABLE}"' if os.environ.get(PREDICT_TOKEN_VARIABLE) else ""
    return f"curl {http_address}{PREDICT_PATH}{token} -d {shlex.quote(json.dumps({'input': image}))}"
