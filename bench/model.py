"""The one model every server of the serving benchmark serves, and its one input as each protocol sends it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.procs import BenchError

MODEL_NAME = "digits"  # MLServer's model name, and kanri's --app (the Open Inference Protocol's model name)
OIP_PATH = f"/v2/models/{MODEL_NAME}/infer"  # the one HTTP request both servers get
OIP_INPUT = "input-0"
MODEL_DESCRIPTION = "LogisticRegression(max_iter=5000) fit on all of sklearn's load_digits, one object dumped twice"


@dataclass
class Model:
    """The estimator, its files (.skops for kanri, .joblib for MLServer), one input and its label."""

    estimator: Any
    skops_path: Path
    joblib_path: Path
    pixels: list[int]
    label: int

    def kanri_request(self) -> bytes:
        """kanri.serving.v1 PredictRequest with the pixels as an IntList."""
        from kanri.serving._pb import serving_pb2 as pb

        return pb.PredictRequest(input=pb.Value(ints=pb.IntList(values=self.pixels))).SerializeToString()

    def oip_request(self, encoding: str) -> bytes:
        """Open Inference Protocol ModelInferRequest: one INT64 [1, 64] tensor, in raw_input_contents
        (encoding "raw") or int64_contents ("contents")."""
        from kanri.serving._pb import open_inference_pb2 as oip

        tensor = oip.ModelInferRequest.InferInputTensor(name=OIP_INPUT, datatype="INT64", shape=[1, len(self.pixels)])
        request = oip.ModelInferRequest(model_name=MODEL_NAME, inputs=[tensor])
        if encoding == "raw":
            request.raw_input_contents.append(np.asarray(self.pixels, dtype="<i8").tobytes())
        else:
            request.inputs[0].contents.int64_contents.extend(self.pixels)
        return request.SerializeToString()

    def oip_json(self) -> bytes:
        """The same tensor in the protocol's REST form, the body both HTTP servers get."""
        tensor = {"name": OIP_INPUT, "datatype": "INT64", "shape": [1, len(self.pixels)], "data": self.pixels}
        return json.dumps({"inputs": [tensor]}).encode()


def prepare_model(workdir: Path, sample: int) -> Model:
    """Fit one LogisticRegression on the digits data and dump it in both formats."""
    import joblib
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    pixels, digits = load_digits(return_X_y=True)
    if not 0 <= sample < len(pixels):
        raise BenchError(f"--sample must be in 0..{len(pixels) - 1}")
    estimator = LogisticRegression(max_iter=5000).fit(pixels, digits)  # as MODEL_DESCRIPTION says
    skops_path, joblib_path = workdir / "digits.skops", workdir / "model.joblib"
    sio.dump(estimator, skops_path)
    joblib.dump(estimator, joblib_path)
    row = pixels[sample].astype(int).tolist()
    return Model(estimator, skops_path, joblib_path, row, int(estimator.predict([row])[0]))
