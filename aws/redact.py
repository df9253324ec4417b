"""Secrets kept out of logs: :class:`SecretRedactor` is a ``logging.Filter`` that replaces private keys, AWS
secrets, session tokens, request signatures and bearer tokens in every record's text with ``<redacted>``.

botocore's debug log prints whole responses, CreateKeyPair's new private key included, and signed request
headers; ``aws_helper.py`` puts the filter on its log handlers, so ``--debug`` shows everything else.
"""

from __future__ import annotations

import logging
import re

REDACTED = "<redacted>"

#: (pattern, replacement): PEM private keys (also inside a repr, where line breaks are ``\\n``), the key
#: material field of EC2 answers (XML and JSON), AWS secret keys and session tokens, SigV4 signatures, bearer
#: and other tokens given as ``name=value`` or ``"name": "value"``.
PATTERNS = [
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.S),
     f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----"),
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*", re.S), f"-----BEGIN PRIVATE KEY-----{REDACTED}"),
    (re.compile(r"(<keyMaterial>).*?(</keyMaterial>|$)", re.S | re.I), rf"\1{REDACTED}\2"),
    (re.compile(r"""(["']?(?:KeyMaterial|SecretAccessKey|SessionToken|aws_secret_access_key|aws_session_token|
                    X-Amz-Security-Token|password|passwd|secret|token|api[_-]?key)["']?\s*[:=]\s*)
                    (b?["'][^"']*["']|[^\s,;&}\]]+)""", re.I | re.X), rf"\1{REDACTED}"),
    (re.compile(r"(Signature=)[0-9a-f]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(Authorization:?\s*['\"]?\s*(?:Bearer|Basic|token)\s+)[^\s'\"]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(<(?:SecretAccessKey|SessionToken)>)[^<]*(</)", re.I), rf"\1{REDACTED}\2"),
]


def redact(text: str) -> str:
    """``text`` with every secret of :data:`PATTERNS` replaced."""
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretRedactor(logging.Filter):
    """A handler filter: the record's message is formatted, redacted and kept (the record is never dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
