"""Run ``mailwatch check`` against the test harness's Postfix and Dovecot; see check-local."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.mailservers import MailServers  # noqa: E402

CONFIG = """
[[checks.roundtrip]]
name = "canary-local"
mail_from = "mailwatch@example.test"
rcpt_to = "{servers.canary}"
deadline_s = 30
[checks.roundtrip.smtp]
host = "localhost"
port = {servers.submission_port}
tls = "starttls"
ca_file = "{servers.ca_file}"
username = "{servers.canary}"
password = "env:MAILWATCH_DEMO_PASSWORD"
[checks.roundtrip.imap]
host = "localhost"
port = {servers.imaps_port}
tls = "tls"
ca_file = "{servers.ca_file}"
username = "{servers.canary}"
password = "env:MAILWATCH_DEMO_PASSWORD"

[[checks.service]]
name = "smtp-banner"
protocol = "smtp"
host = "127.0.0.1"
port = {servers.smtp_port}

[[checks.service]]
name = "imap-banner"
protocol = "imap"
host = "127.0.0.1"
port = {servers.imap_port}

[[checks.resources]]
name = "host"
mounts = ["/"]
"""


def main() -> int:
    with MailServers() as servers, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "mailwatch.toml"
        config.write_text(CONFIG.format(servers=servers))
        env = {**os.environ, "MAILWATCH_DEMO_PASSWORD": servers.password}
        mailwatch = [sys.executable, "-m", "mailwatch", "check", "-c", str(config)]
        print(f"$ mailwatch check -c {config}", flush=True)
        table = subprocess.run(mailwatch, env=env, check=False)
        print(f"\n$ mailwatch check -c {config} canary-local --json", flush=True)
        subprocess.run([*mailwatch, "canary-local", "--json"], env=env, check=False)
        return table.returncode


if __name__ == "__main__":
    sys.exit(main())
