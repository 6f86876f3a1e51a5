"""Station passwords out of the OCPP message log and the `ocpp` package's log lines.

A password travels in 1.6 ChangeConfiguration(AuthorizationKey), 2.0.1 SetVariables
(SecurityCtrlr.BasicAuthPassword) and 2.0.1 SetNetworkProfile (basicAuthPassword); a station
may also echo one in GetConfiguration / GetVariables answers. Frames that mention none of these
names pass untouched (one substring scan), so the hot path stays cheap.
"""

import json
import logging
from typing import Any

REDACTED = "***"
_MARKERS = ("AuthorizationKey", "BasicAuthPassword", "basicAuthPassword")


def _scrub(node: Any) -> Any:
    if isinstance(node, list):
        return [_scrub(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned = {key: _scrub(value) for key, value in node.items()}
    if cleaned.get("key") == "AuthorizationKey" and "value" in cleaned:
        cleaned["value"] = REDACTED
    variable = cleaned.get("variable")
    if (
        isinstance(variable, dict)
        and variable.get("name") == "BasicAuthPassword"
        and "attributeValue" in cleaned
    ):
        cleaned["attributeValue"] = REDACTED
    if "basicAuthPassword" in cleaned:
        cleaned["basicAuthPassword"] = REDACTED
    return cleaned


def redact(text: str) -> str:
    """`text` with every station password replaced by "***"; unchanged when it has none.

    A frame that names a password key but is not JSON is replaced as a whole: it cannot be
    scrubbed precisely, and it is safer lost than leaked.
    """
    if not any(marker in text for marker in _MARKERS):
        return text
    try:
        frame = json.loads(text)
    except ValueError:
        return f"<unparsable frame naming a password key: {len(text)} characters redacted>"
    return json.dumps(_scrub(frame), separators=(",", ":"))


class RedactingFilter(logging.Filter):
    """Scrubs string arguments of log records (the `ocpp` package logs every raw frame)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_clean_arg(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def _clean_arg(arg: Any) -> Any:
    # The package also logs Call / CallError objects, whose str() holds the payload.
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = arg if isinstance(arg, str) else str(arg)
    cleaned = redact(text)
    return arg if cleaned is text else cleaned


_FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Attach the filter to the `ocpp` package's logger (idempotent)."""
    logger = logging.getLogger("ocpp")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
