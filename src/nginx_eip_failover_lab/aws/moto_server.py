"""The embedded AWS: moto's server on 127.0.0.1, in its own process group, started by
`moto_launcher` so that EC2 behaviours moto lacks (moto_gaps) are modelled as EC2 does them."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from nginx_eip_failover_lab.account import REGION
from nginx_eip_failover_lab.processes import ManagedProcess, free_port, wait_until

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # src/: where the launcher is imported from

# Credentials and settings for every process that talks to the lab's AWS: nothing reaches real AWS.
DUMMY_AWS_ENV: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class MotoServer:
    def __init__(self, log_path: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = ManagedProcess(
            "moto server",
            [sys.executable, "-m", "nginx_eip_failover_lab.aws.moto_launcher", "-H", "127.0.0.1", "-p", str(self.port)],
            log_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(_PACKAGE_ROOT), **DUMMY_AWS_ENV},
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    def start(self, timeout: float = 60.0) -> None:
        self._process.start()
        if not wait_until(lambda: self._answers() or not self._process.running, timeout, 0.1) or not self.running:
            tail = self._process.log_tail()
            self.stop()
            raise RuntimeError(f"the moto server did not start on {self.url}:\n{tail}")

    def stop(self) -> None:
        self._process.stop()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1) as response:  # noqa: S310
                return bool(200 <= response.status < 500)
        except urllib.error.HTTPError:
            return True  # it answered
        except (urllib.error.URLError, OSError):
            return False
