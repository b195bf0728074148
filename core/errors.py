"""The one exception tree of isu-gateway.

Every error the product raises on purpose is an :class:`IsuError`. Foreign exceptions
(``OSError``, ``psycopg.Error``, pydantic's ``ValidationError``…) are translated at the boundary
with ``raise … from exc`` so that callers only ever handle this tree::

    IsuError
    ├── ConfigError                  bad configuration or command-line input     (never retried)
    ├── ProtocolError                the bytes on the wire are wrong              (retried)
    │   ├── FrameError               a frame that cannot be decoded (length, code, layout)
    │   │   ├── ChecksumError        CRC/FCS mismatch
    │   │   └── TruncatedError       the frame ended early (incomplete at a timeout)
    │   ├── UnexpectedResponseError  a well-formed frame that does not answer our request
    │   └── RemoteProtocolError      the meter says our request is malformed (status 1)
    ├── MeterError                   the meter refused or cannot serve the request
    │   ├── AuthenticationError      wrong password or level                     (never retried)
    │   ├── AccessError              insufficient access level (status 3)        (never retried)
    │   ├── SessionExpiredError      the channel is not open (status 5)          (reopen, retry)
    │   ├── ObjectUnavailableError   the meter does not have this value          (never retried)
    │   └── MeterInternalError       internal meter error (status 2)             (retried)
    ├── TransportError               the byte stream failed                      (backoff, retry)
    │   ├── ConnectError             could not connect / open the port
    │   ├── TransportTimeoutError    no (complete) answer in time
    │   └── ConnectionLostError      the peer closed or the link dropped
    ├── PublishError                 MQTT publish or broker connection failed     (retried)
    ├── MessageError                 an MQTT payload the gateway cannot accept    (dead-lettered)
    │   └── InvalidMessageError      a rule of core.validation broken; ``rule`` says which
    ├── StorageError                 the database or the disk queue failed        (retried)
    │   └── RejectedDataError        the database refuses the data itself         (dead-lettered)
    └── ExportError                  data an export format cannot carry           (never retried)

``retryable`` on each class is the default policy; the collector and the gateway consult it.
Messages name the meter and the point, never a secret.
"""

from __future__ import annotations

__all__ = [
    "AccessError",
    "AuthenticationError",
    "ChecksumError",
    "ConfigError",
    "ConnectError",
    "ConnectionLostError",
    "ExportError",
    "FrameError",
    "IsuError",
    "MessageError",
    "MeterError",
    "MeterInternalError",
    "ObjectUnavailableError",
    "ProtocolError",
    "PublishError",
    "RejectedDataError",
    "RemoteProtocolError",
    "SessionExpiredError",
    "StorageError",
    "TransportError",
    "TransportTimeoutError",
    "TruncatedError",
    "UnexpectedResponseError",
]


class IsuError(Exception):
    """Base of every error raised on purpose by isu-gateway."""

    retryable: bool = False

    @property
    def error_class(self) -> str:
        """A short, stable name for metrics labels and per-meter state."""
        return type(self).__name__


class ConfigError(IsuError):
    """Configuration or command-line input that cannot be used."""


class ProtocolError(IsuError):
    """The bytes exchanged with a meter do not follow its protocol."""

    retryable = True


class FrameError(ProtocolError):
    """A frame that cannot be decoded."""


class ChecksumError(FrameError):
    """A frame whose checksum does not match its content."""


class TruncatedError(FrameError):
    """A frame that ended before its declared or expected length."""


class UnexpectedResponseError(ProtocolError):
    """A well-formed frame that is not the answer to the request sent."""


class RemoteProtocolError(ProtocolError):
    """The meter reports that our request was malformed or not supported."""

    retryable = False


class MeterError(IsuError):
    """The meter refused the request or cannot serve it."""


class AuthenticationError(MeterError):
    """Wrong password, level or credentials."""


class AccessError(MeterError):
    """The session's access level does not allow the request."""


class SessionExpiredError(MeterError):
    """The meter's session (channel) is not open or has lapsed; reopen and retry."""

    retryable = True


class ObjectUnavailableError(MeterError):
    """The meter does not provide this value."""


class MeterInternalError(MeterError):
    """The meter reports an internal error."""

    retryable = True


class TransportError(IsuError):
    """The byte stream to the meter failed."""

    retryable = True


class ConnectError(TransportError):
    """The connection or the port could not be opened."""


class TransportTimeoutError(TransportError):
    """No complete answer arrived in time."""


class ConnectionLostError(TransportError):
    """The peer closed the connection or the link dropped."""


class PublishError(IsuError):
    """Publishing to the MQTT broker failed."""

    retryable = True


class MessageError(IsuError):
    """An MQTT payload that cannot be accepted; it is dead-lettered with this reason."""


class StorageError(IsuError):
    """The database or the on-disk queue failed."""

    retryable = True


class RejectedDataError(StorageError):
    """The database refuses the data itself (a constraint, a value out of range): a retry
    cannot help, so the offending message is dead-lettered.

    ``detail`` is the server's one-line reason, without connection details.
    """

    retryable = False

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class ExportError(IsuError):
    """Data that an export format cannot carry: a name its encoding cannot hold, an interval off
    the day's grid. The message names the field or the metering point."""
