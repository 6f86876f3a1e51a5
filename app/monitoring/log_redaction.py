"""Keep credentials out of third-party DEBUG logs: header values redacted, SDK bodies capped.

At DEBUG, uvicorn's WebSocket protocol logs every handshake header through `uvicorn.error`
("< authorization: Basic ..." from a charger, "Bearer ..." from an app), and the Stripe SDK logs
whole response bodies (SetupIntent and PaymentIntent client secrets) on `stripe`.
"""

import logging
import re

# Header lines as h11/websockets log them: "< name: value" (request) or "> name: value".
_SECRET_HEADER = re.compile(
    r"(?im)^([<>]?\s*(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|"
    r"stripe-signature|x-chargenet-signature)\s*:\s*).+$"
)
# Loggers that carry raw handshake headers at DEBUG.
HEADER_LOGGERS = ("uvicorn.error", "websockets.server", "websockets.protocol")
# SDKs whose DEBUG output is request/response bodies with secrets in them.
BODY_LOGGERS = ("stripe",)


def redact(text: str) -> str:
    return _SECRET_HEADER.sub(r"\1[redacted]", text)


class RedactSecretHeaders(logging.Filter):
    """Rewrites a record whose message holds a credential header, keeping the header's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """Idempotent: safe to call from every create_app."""
    for name in HEADER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretHeaders) for f in logger.filters):
            logger.addFilter(RedactSecretHeaders())
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
