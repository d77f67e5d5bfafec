"""Headless Chromium driven over the DevTools protocol on a pipe: no WebDriver, no pip package.

With --remote-debugging-pipe Chromium reads JSON commands, each ended by a NUL byte, from
file descriptor 3 and writes replies and events the same way to descriptor 4. The browser is
Debian's `chromium` (scripts/need installs it), never a downloaded build.

The fixtures at the end (`from chromium import *`) serve the app with committed demo reports
through the real gunicorn configuration and open it in one browser per test module.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from live import gunicorn
from sqlalchemy import text

from civic_api.analytics import releases
from civic_api.database import make_engine
from civic_api.seed.demo_reports import insert_demo_reports

__all__ = ["Chromium", "Page", "browser", "demo_reports", "live_server", "wait_for_map"]

ROOT = Path(__file__).resolve().parent.parent

FLAGS = (
    "--headless",
    "--remote-debugging-pipe",
    # WebGL in software (SwiftShader): no GPU on CI.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--force-color-profile=srgb",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-dev-shm-usage",
    # Nothing but the page under test may reach the network.
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-pings",
)


class DevToolsError(RuntimeError):
    """A DevTools command failed, or JavaScript evaluated in the page threw."""


def chromium_executable() -> str:
    """$CHROMIUM (scripts/test sets it from scripts/need), else chromium on the PATH."""
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        raise RuntimeError(
            "Chromium is missing: run scripts/need chromium chromium (installs Debian's package)"
        )
    return path


class Chromium:
    """One headless browser; `events` holds every DevTools event received so far."""

    def __init__(self, profile: Path, log_path: Path, executable: str | None = None):
        to_browser, browser_in = os.pipe()
        browser_out, from_browser = os.pipe()
        # Park the child's ends at 10+ so that moving them to 3 and 4 cannot clobber either.
        child_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser)
        os.close(from_browser)

        def place_pipes():  # in the child, before exec; dup2 clears close-on-exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        flags = list(FLAGS)
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [executable or chromium_executable(), *flags, f"--user-data-dir={profile}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=place_pipes,
                close_fds=False,  # Python opens files non-inheritable; only 0-4 pass on
            )
        os.close(child_in)
        os.close(child_out)
        self._out = browser_in
        self._in = browser_out
        self._buffer = b""
        self._last_id = 0
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (DevToolsError, OSError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        os.close(self._out)
        os.close(self._in)

    def post(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        """Send one command without waiting; return its id."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data) :]
        return self._last_id

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=15.0
    ) -> dict:
        """Run one command and return its result; events that arrive meanwhile are kept."""
        command = self.post(method, params, session)
        deadline = time.monotonic() + timeout
        while command not in self._replies:
            self._pump(deadline)
        reply = self._replies.pop(command)
        if "error" in reply:
            raise DevToolsError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _pump(self, deadline: float) -> None:
        """Read one message: a reply is kept by id, an event is recorded (and acted on)."""
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply from Chromium in time")
            if select.select([self._in], [], [], remaining)[0]:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise DevToolsError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        data, _, self._buffer = self._buffer.partition(b"\0")
        message = json.loads(data)
        if "id" in message:
            self._replies[message["id"]] = message
            return
        self.events.append(message)
        params = message.get("params", {})
        if message.get("method") == "Target.attachedToTarget" and params.get("waitingForDebugger"):
            # A worker of the page, paused until its requests are logged too. Replies to
            # these commands are never awaited.
            worker = params["sessionId"]
            self.post("Network.enable", session=worker)
            self.post("Runtime.runIfWaitingForDebugger", session=worker)

    def new_page(self, width: int, height: int) -> "Page":
        """A fresh tab with a width × height CSS-pixel viewport, with events switched on."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        # Workers fetch too (MapLibre loads tiles in web workers): attach to them as well.
        page.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
        )
        return page


class Page:
    """A tab, addressed through its flat DevTools session."""

    def __init__(self, browser: Chromium, session: str):
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None, timeout: float = 15) -> dict:
        return self.browser.send(method, params, self.session, timeout)

    def evaluate(self, expression: str, timeout: float = 15):
        """The JSON value of a JavaScript expression (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout,
        )
        if "exceptionDetails" in result:
            raise DevToolsError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise DevToolsError(f"navigating to {url}: {result['errorText']}")

    def wait_for(self, expression: str, timeout: float = 15, interval: float = 0.1):
        """Poll until the expression is truthy; return its value. Errors count as false
        (while a navigation swaps documents, there may be no document or no context)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except DevToolsError as exc:
                value, error = None, exc
            else:
                error = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}") from error
            time.sleep(interval)

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def worker_sessions(self) -> list[str]:
        return [
            e["params"]["sessionId"]
            for e in self.browser.events
            if e.get("method") == "Target.attachedToTarget" and e.get("sessionId") == self.session
        ]

    def events(self, method: str) -> list[dict]:
        """Params of the events of this page and its workers with this method."""
        sessions = {self.session, *self.worker_sessions()}
        return [
            e["params"]
            for e in self.browser.events
            if e.get("method") == method and e.get("sessionId") in sessions
        ]

    def requested(self) -> list[str]:
        """Every URL the page and its workers asked for, in order."""
        return [e["request"]["url"] for e in self.events("Network.requestWillBeSent")]

    def problems(self) -> list[str]:
        """Uncaught exceptions, console errors and failed loads (CSP violations among them)."""
        found = [json.dumps(e)[:300] for e in self.events("Runtime.exceptionThrown")]
        found += [
            e["entry"]["text"]
            for e in self.events("Log.entryAdded")
            if e["entry"]["level"] == "error"
        ]
        found += [
            json.dumps(e["args"])[:300]
            for e in self.events("Runtime.consoleAPICalled")
            if e["type"] in ("error", "assert")
        ]
        return found

    def press(self, key: str, keycode: int, text: str = "", code: str = "") -> None:
        """One key, down and up, as a keyboard sends it: `text` is what it types, if anything
        (a carriage return for Enter), `code` the physical key when it differs from `key`."""
        down = {"type": "keyDown" if text else "rawKeyDown", "key": key, "code": code or key}
        down |= {"windowsVirtualKeyCode": keycode, "text": text, "unmodifiedText": text}
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", down | {"type": "keyUp"})

    def type_digits(self, digits: str) -> None:
        for digit in digits:
            self.press(digit, 48 + int(digit), text=digit, code=f"Digit{digit}")


# --- The app in the browser ---------------------------------------------------------------

MAP_SETTLED = "['ready', 'error'].includes(document.body && document.body.dataset.mapState)"
MAP_DEBUG = "[location.href, document.getElementById('suppression-notice').textContent]"


def wait_for_map(page: Page, timeout: float = 30) -> None:
    """Wait until /map has drawn its tiles and its notice is current (body[data-map-state])."""
    try:
        page.wait_for(MAP_SETTLED, timeout=timeout)
    except TimeoutError as exc:
        raise TimeoutError(f"map still loading: {page.evaluate(MAP_DEBUG)}") from exc
    state = page.evaluate("document.body.dataset.mapState")
    assert state == "ready", f"{state}: {page.evaluate('document.body.innerText')}"


@pytest.fixture(scope="module")
def demo_reports(app, database_url):
    """Committed demo reports over the past year, dense enough for many cells to pass k, and
    the release of the last closed month (what the sensitive categories show by default);
    all deleted afterwards."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        before = connection.scalars(text("SELECT id::text FROM report")).all()
        insert_demo_reports(connection, 3000, seed=5)
    month = releases.month_id(
        releases.last_publishable_month(datetime.now(UTC), app.config["RELEASE_GRACE_DAYS"])
    )
    published = app.test_cli_runner().invoke(args=["analytics", "publish", "--month", month])
    assert published.exit_code == 0, published.output
    try:
        yield SimpleNamespace(release=month)
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM release WHERE id = :id"), {"id": month})
            connection.execute(
                text("DELETE FROM report WHERE NOT (id::text = ANY(:before))"), {"before": before}
            )
            connection.execute(text("DELETE FROM push_device WHERE fcm_token LIKE 'demo-%'"))
            # The rollup triggers have counted them back down to zero.
            for table in ("heat_cell_day", "heat_cell_total"):
                connection.execute(text(f"DELETE FROM {table} WHERE count = 0"))
        engine.dispose()


@pytest.fixture(scope="module")
def live_server(database_url, tmp_path_factory):
    """The real gunicorn configuration on the test database. One test client opens dozens
    of pages here within a minute, far more than the aggregate rate limit gives a visitor."""
    log = tmp_path_factory.mktemp("server") / "gunicorn.log"
    env = {"CIVIC_AGGREGATE_RATE_LIMIT": "100000 per minute"}
    with gunicorn(database_url, log, env=env, ready="/map") as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    directory = tmp_path_factory.mktemp("chromium")
    with Chromium(directory / "profile", directory / "chromium.log") as chromium:
        yield chromium
