"""The ``[[checks.roundtrip]]`` TOML table that points a round trip at the harness's servers,
for the tests that write a config file for ``mailwatch check`` or ``mailwatch run``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from harness.mailservers import MailServers

Value = str | int | float | bool


def roundtrip_toml(
    servers: MailServers,
    name: str,
    *,
    user: str | None = None,
    password_env: str = "MW_TEST_PASSWORD",
    deadline_s: float = 10,
    check: Mapping[str, Value] | None = None,
    smtp: Mapping[str, Value] | None = None,
    imap: Mapping[str, Value] | None = None,
) -> str:
    """A round trip from plain SMTP to IMAPS on localhost, both trusting the harness CA.

    ``user`` (default the canary) receives the canary and logs in over IMAP with the password
    in environment variable ``password_env``; ``check``, ``smtp`` and ``imap`` add keys to
    the check's table and its two endpoint tables.
    """
    user = user or servers.canary
    return f"""
[[checks.roundtrip]]
name = "{name}"
mail_from = "mailwatch@example.test"
rcpt_to = "{user}"
deadline_s = {deadline_s}
{_keys(check)}[checks.roundtrip.smtp]
host = "localhost"
port = {servers.smtp_port}
ca_file = "{servers.ca_file}"
{_keys(smtp)}[checks.roundtrip.imap]
host = "localhost"
port = {servers.imaps_port}
ca_file = "{servers.ca_file}"
username = "{user}"
password = "env:{password_env}"
{_keys(imap)}"""


def _keys(values: Mapping[str, Value] | None) -> str:
    # json.dumps writes strings, numbers and booleans as TOML reads them.
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in (values or {}).items())
