"""Who may ask for predictions: anyone (the default), a caller with the service's bearer token, or one with a
valid JWT; both may be set, and a call passes with either.

Only the prediction calls are checked (kanri's Predict and PredictStream, the Open Inference Protocol's
ModelInfer, over gRPC and HTTP): health, readiness and metadata stay open to the kubelet, load balancers and
Prometheus, and the admin RPCs keep their own token (KANRI_ADMIN_TOKEN). A JWT is verified against the
public keys of a JWKS or PEM file (asymmetric algorithms only, so the runtime never holds a signing key):
signature, expiry (required), issuer and audience.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Unauthenticated

if TYPE_CHECKING:
    from .config import ServerSettings

PREDICT_TOKEN_VARIABLE = "KANRI_PREDICT_TOKEN"
"""The bearer token, read from the environment only (by `kanri serve`, the SDK and the demo's curl line)."""
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
HOW = "predictions need 'authorization: Bearer <token>'"


class JwtCheck:
    """The keys of one file and the claims a token must carry."""

    def __init__(self, keys_path: str, issuer: str, audience: str) -> None:
        try:
            import jwt
        except ImportError:
            raise ValueError("JWT verification needs PyJWT: pip install 'kanri[jwt]'") from None
        self._jwt = jwt
        self.issuer, self.audience = issuer, audience
        try:
            text = Path(keys_path).read_text()
            if text.lstrip().startswith("{"):
                self._keys: dict[str | None, Any] = {key.key_id: key.key for key in jwt.PyJWKSet.from_json(text).keys}
            else:
                from cryptography.hazmat.primitives.serialization import load_pem_public_key

                self._keys = {None: load_pem_public_key(text.encode())}
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"cannot read the JWT keys in {keys_path}: {exc}") from None

    def verify(self, token: str) -> None:
        jwt = self._jwt
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid in self._keys:
                key = self._keys[kid]
            elif kid is None and len(self._keys) == 1:  # a PEM key, or a JWKS of one key
                key = next(iter(self._keys.values()))
            else:
                raise Unauthenticated(f"the token's key id {kid!r} is not one of this service's JWT keys")
            jwt.decode(token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                       options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the token is not for this service (its audience must be {self.audience!r})"
                                  ) from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"the token was not issued by {self.issuer!r}") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None


@dataclass(frozen=True)
class CallerAuth:
    token: str = ""
    jwt: JwtCheck | None = None

    def check(self, authorization: str) -> None:
        """Return if the authorization header (or metadata) value lets the caller predict; else Unauthenticated."""
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated(f"{HOW}; none was given" if not authorization else f"{HOW}, not {scheme!r}")
        if self.token and hmac.compare_digest(credential.encode(), self.token.encode()):
            return
        if self.jwt is None:
            raise Unauthenticated("the bearer token is not this service's")
        self.jwt.verify(credential)


def caller_auth(settings: ServerSettings) -> CallerAuth | None:
    """The settings' check of callers, or None when predictions are open; ValueError if it cannot be set up."""
    if not settings.predict_token and not settings.jwt_keys:
        return None
    check = JwtCheck(settings.jwt_keys, settings.jwt_issuer, settings.jwt_audience) if settings.jwt_keys else None
    return CallerAuth(settings.predict_token, check)
