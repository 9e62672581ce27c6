"""Exceptions raised by the Adobe client; nothing above this package sees ``httpx``.

Exception tree::

    ReconcilerError                   (reconciler.errors)
    └── AdobeError                  any failure talking to Adobe
        ├── InvalidArgumentError    the caller asked for something the client will not send
        ├── ApiError                an error status (status, error_code, message)
        │   ├── AuthenticationError IMS refused the credentials, or the gateway said 401/403
        │   ├── NotFoundError       404: the work order or job does not exist
        │   ├── ThrottledError      429, still after the allowed retries
        │   └── ServerError         5xx/408 on an idempotent call, still after the retries
        ├── TransportError          no answer at all: connect failure, timeout, broken connection
        ├── InvalidResponseError    an answer that breaks the contract: too large, not JSON,
        │                           wrong content type, wrong field types, ids of the wrong shape
        └── OutcomeUnknownError     a POST was sent but no valid answer came back (none, an
                                    unreadable one, or 429/401/5xx, which a gateway may send
                                    after the backend committed): it may or may not have been
                                    applied. The caller must look for it (by its tag on the
                                    list endpoint) before sending it again.

Messages name the method and path, never a request body, a token, a secret or an identity.
Text copied from the server is truncated and stripped of control characters (see ``sanitize``).
"""

from __future__ import annotations

from reconciler.errors import ReconcilerError


class AdobeError(ReconcilerError):
    """Base of every failure raised by ``reconciler.adobe``."""


class InvalidArgumentError(AdobeError):
    """The caller passed a value the client refuses to send (bad id shape, empty identities...)."""


class ApiError(AdobeError):
    """Adobe answered with an error status."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        *,
        error_code: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.error_code = error_code
        self.message = message
        self.request_id = request_id
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"{self.method} {self.path} answered {self.status}"
        if self.error_code:
            text += f" (error_code {self.error_code})"
        if self.message:
            text += f": {self.message}"
        if self.request_id:
            text += f" [x-request-id {self.request_id}]"
        return text


class AuthenticationError(ApiError):
    """IMS refused the credentials, or the gateway refused the token or API key (401/403)."""


class NotFoundError(ApiError):
    """The object does not exist (404)."""


class ThrottledError(ApiError):
    """Adobe kept answering 429 Too Many Requests."""


class ServerError(ApiError):
    """Adobe kept failing with 5xx (or 408) on a call that was safe to retry."""


class TransportError(AdobeError):
    """No answer: the connection failed, timed out or broke."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path}: {reason}")


class InvalidResponseError(AdobeError):
    """An answer that cannot be trusted: too large, malformed, or not the documented shape."""


class OutcomeUnknownError(AdobeError):
    """A POST was sent but no valid answer came back: it may or may not have been applied.

    Carries what was attempted (method, path, x-request-id, attempts, reason) and the
    HTTP status that answered it (``status``, None when nothing did), never the request
    body or any identity.
    """

    def __init__(
        self,
        method: str,
        path: str,
        *,
        reason: str,
        request_id: str,
        attempts: int,
        status: int | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.request_id = request_id
        self.attempts = attempts
        self.status = status
        super().__init__(
            f"{method} {path}: outcome unknown after {attempts} attempt(s) ({reason});"
            f" it may have been applied: look it up before sending it again"
            f" [x-request-id {request_id}]"
        )
