"""A real headless Chromium for tests, driven through the DevTools protocol over a pipe
(`--remote-debugging-pipe`: the browser reads commands on its fd 3 and answers on its fd 4, each
message JSON ended by a NUL byte), so no websocket library and no port are needed.

`load_page()` opens a file, waits for its load event, evaluates an expression in the page (after
its scripts ran), takes a full-page screenshot, and returns what the page said on the way: console
errors, uncaught exceptions, the browser's own error log entries (a Content-Security-Policy
violation, a resource that failed to load), dialogs opened (`alert`) and every request made.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The browser to run: $CHROMIUM, else the first of the usual names on PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.access(named, os.X_OK) else None)
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


@dataclass
class PageRun:
    value: Any  # what the expression returned
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, error log entries
    dialogs: list[str] = field(default_factory=list)  # alert / confirm / prompt messages
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


class _Pipe:
    def __init__(self, process: subprocess.Popen[bytes], write_fd: int, read_fd: int, deadline: float) -> None:
        self.process, self.write_fd, self.read_fd, self.deadline = process, write_fd, read_fd, deadline
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self.events.append(answer)

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first event `method` (kept events first); a dialog the page opens meanwhile is
        noted and dismissed, since it would stop the page."""
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            event = self._receive()
            self.events.append(event)
            if event.get("method") == "Page.javascriptDialogOpening":
                self.send("Page.handleJavaScriptDialog", {"accept": False}, session=event.get("sessionId"))

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed its pipe (exit status {self.process.poll()})")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        found: dict[str, Any] = json.loads(message)
        return found


def _high(fd: int) -> int:
    """The descriptor again, numbered 10 or more (so that moving it to 3 or 4 cannot clobber the other)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


def load_page(
    binary: str, page: Path, expression: str, screenshot: Path, width: int = 1400, timeout: float = 30.0
) -> PageRun:
    """Open `page` in headless Chromium, run `expression` once it has loaded, save a screenshot."""
    commands_r, commands_w = (_high(fd) for fd in os.pipe())
    answers_r, answers_w = (_high(fd) for fd in os.pipe())
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, open(Path(profile) / "log", "w+b") as log:
        flags = [
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}/user-data",
            f"--window-size={width},900",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        redirect = f'exec "$0" "$@" 3<&{commands_r} 4>&{answers_w} {commands_r}<&- {answers_w}>&-'
        process = subprocess.Popen(
            ["bash", "-c", redirect, binary, *flags],
            pass_fds=(commands_r, answers_w),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        os.close(commands_r)
        os.close(answers_w)
        try:
            return _drive(
                _Pipe(process, commands_w, answers_r, time.monotonic() + timeout), page, expression, screenshot
            )
        except (RuntimeError, TimeoutError) as e:
            log.seek(0)
            raise RuntimeError(f"{e}; Chromium's output: {log.read()[-2000:].decode(errors='replace')}") from e
        finally:
            for fd in (commands_w, answers_r):
                os.close(fd)  # Chromium exits when its command pipe closes
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _drive(pipe: _Pipe, page: Path, expression: str, screenshot: Path) -> PageRun:
    target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page", "Network"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
    pipe.wait_for("Page.loadEventFired")
    evaluated = pipe.send(
        "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=session
    )
    if "exceptionDetails" in evaluated:
        raise RuntimeError(f"the test's expression failed: {evaluated['exceptionDetails']}")
    metrics = pipe.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    shot = pipe.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1},
        },
        session=session,
    )
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    run = PageRun(evaluated["result"].get("value"))
    for event in pipe.events:
        _note(event, run)
    with contextlib.suppress(RuntimeError, TimeoutError, OSError):
        pipe.send("Browser.close")  # it may close its pipe before it answers
    return run


def _note(event: dict[str, Any], run: PageRun) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        run.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
    elif method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        run.errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        run.errors.append(f"log ({params['entry'].get('source')}): {params['entry'].get('text')}")
    elif method == "Page.javascriptDialogOpening":
        run.dialogs.append(params.get("message", ""))
    elif method == "Network.requestWillBeSent":
        run.requests.append(params["request"]["url"])
