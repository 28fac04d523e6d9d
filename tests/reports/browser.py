"""Headless Chromium (the Debian package) for the report tests: load a page from disk, return its
rendered DOM and every request the page made (from Chromium's net log).

Nothing can leave the machine: host names resolve to nothing and every other request goes to a
closed local proxy port. The net log still records what the page *tried* to fetch, which is what
the tests assert on; requests Chromium makes for itself (update checks) are told apart by their
initiator and ignored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9", "--virtual-time-budget=15000",
)


def chromium() -> str | None:
    return shutil.which("chromium") or (str(Path("/usr/bin/chromium")) if Path("/usr/bin/chromium").exists() else None)


@dataclass(frozen=True)
class Page:
    dom: str
    requests: list[str]   # URLs the page itself requested (not Chromium's own background traffic)

    def external(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:", "blob:", "about:"))]


def _events(netlog: Path) -> list[dict]:
    text = netlog.read_text(encoding="utf-8").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"  # the log of a killed browser lacks its closing brackets
    data = json.loads(text)
    names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    return [dict(e, type_name=names.get(e["type"])) for e in data["events"]]


def load(url: str, work: Path, *, timeout: float = 90) -> Page:
    """Open ``url`` (a file:// URL) in a fresh profile, let it run, return its DOM and requests."""
    binary = chromium()
    assert binary, "Chromium is missing: run scripts/system-deps.sh (make test does)"
    work.mkdir(parents=True, exist_ok=True)
    netlog = work / "netlog.json"
    proc = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}", f"--log-net-log={netlog}",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    requests = []
    for e in _events(netlog):
        params = e.get("params") or {}
        if e["type_name"] == "URL_REQUEST_START_JOB" and "url" in params and params.get("initiator") != "not an origin":
            requests.append(params["url"])
    return Page(proc.stdout, requests)
