"""The HTML report in a real headless browser (Debian's chromium).

It renders its charts, runs no script from endpoint text and fetches nothing.

Chromium loads each page from a file with every request sent to a local proxy that only
records and refuses; `--dump-dom` gives the DOM after the load event, read back with the
standard library's parser. A control page that does run a script and fetch an image shows
the checks can fail. Without chromium the tests skip, except under CI=true, where they fail
(`.ci/run` installs it).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.cli_helpers import ok, write_ndjson
from tests.conftest import REAL_LOGS, SAMPLES
from tests.html_page import Page
from tests.unit.views.test_report import ALLOWED_TAGS, HOSTILE

pytestmark = pytest.mark.slow

#: Hosts chromium itself calls at start-up (component updates, network time, sign-in);
#: requests to them are not the page's. Any other request fails the test.
CHROMIUM_SERVICE_HOSTS = frozenset(
    {"update.googleapis.com", "clients2.google.com", "accounts.google.com", "redirector.gvt1.com"}
)
#: Attributes that make a browser fetch (or navigate to) their value.
URL_ATTRIBUTES = frozenset(
    {"src", "href", "srcset", "action", "formaction", "data", "poster", "background", "xlink:href"}
)
CSP_META = re.compile(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>\n?")
LAST, STEP, STEPS, TOP = "1h", "5m", 12, 6
#: A honeypot's access log, full of XSS probes in request paths (shared/data/real/SOURCES.md).
HONEYNET = "honeynet_rh71_httpd_access_2004.log.gz"


@dataclass(frozen=True)
class Loaded:
    """What the browser made of a page: its DOM after load, and the requests it sent."""

    page: Page
    requests: list[str]

    @property
    def page_requests(self) -> list[str]:
        """Requests the page caused: everything but chromium's own service calls."""
        return [r for r in self.requests if _host(r) not in CHROMIUM_SERVICE_HOSTS]


def _host(request_line: str) -> str:
    """`CONNECT host:443 HTTP/1.1` or `GET http://host/path HTTP/1.1` -> host."""
    target = request_line.split(" ")[1] if " " in request_line else request_line
    return re.sub(r"^[a-z]+://", "", target).split("/")[0].rsplit(":", 1)[0]


class RefusingProxy:
    """An HTTP proxy on loopback that records each request line and closes the connection."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                if self._stop.is_set():
                    return
                continue
            with connection:
                connection.settimeout(2)
                try:
                    head = connection.recv(4096)
                except OSError:
                    head = b"?"
                if head:  # a speculative preconnect that sends nothing requests nothing
                    self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))

    def close(self) -> list[str]:
        """Stop once no connection is pending; the request lines seen."""
        self._stop.set()
        self._thread.join(10)
        self.server.close()
        return self.requests


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], Loaded]]:
    """Load a page in headless chromium behind a refusing proxy."""
    binary = _chromium()
    if binary is None:
        message = "chromium not found (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    profile = tmp_path_factory.mktemp("chromium-profile")

    def load(path: Path) -> Loaded:
        proxy = RefusingProxy()
        args = [binary, "--headless", "--disable-gpu", f"--user-data-dir={profile}"]
        args += [f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]
        args += ["--no-first-run", "--disable-background-networking", "--disable-sync"]
        args += ["--no-sandbox"] if os.geteuid() == 0 else []  # root: no user namespaces
        try:
            done = subprocess.run(
                [*args, "--dump-dom", path.as_uri()], capture_output=True, timeout=60, check=True
            )
        finally:
            requests = proxy.close()
        return Loaded(Page.parse(done.stdout.decode("utf-8")), requests)

    yield load


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A report of the sample traffic plus hostile endpoints, the busiest of them all."""
    folder = tmp_path_factory.mktemp("report")
    saved = os.environ.get("HITCOUNT_STATE")
    os.environ["HITCOUNT_STATE"] = str(folder / "state.json")
    try:
        ok(["replay", str(SAMPLES / "web.ndjson"), "-s", "sliding"])
        clock = json.loads(ok(["metrics", "--json"]).stdout)["clock"]
        hostile = [(ep, clock - 5 * i) for ep in HOSTILE for i in range(40 + 10 * len(ep))]
        write_ndjson(folder / "hostile.ndjson", hostile)
        ok(["replay", "--append", str(folder / "hostile.ndjson")])
        out = folder / "report.html"
        ok(["report", str(out), "--last", LAST, "--step", STEP, "--top", str(TOP)])
    finally:
        if saved is None:
            del os.environ["HITCOUNT_STATE"]
        else:
            os.environ["HITCOUNT_STATE"] = saved
    yield out


def test_the_browser_renders_one_chart_per_top_endpoint(
    browse: Callable[[Path], Loaded], report_file: Path
) -> None:
    loaded = browse(report_file)
    dom = loaded.page
    assert dom.title == "hitcount report"
    charts = dom.all("svg", "chart")
    figures = dom.all("figure")
    assert len(charts) == len(figures) == TOP
    endpoints = [f.attrs["data-endpoint"] for f in figures]
    assert set(endpoints) == set(HOSTILE)  # they were made the busiest
    for endpoint in endpoints:
        marks = dom.marks(endpoint)
        assert len(marks) == STEPS
        busy = [m for m in marks if float(m.attrs["data-count"]) > 0]
        assert busy and all(float(m.attrs["height"]) > 0 for m in busy)
    assert [row[1] for row in dom.rows("top-table")] == endpoints
    assert loaded.page_requests == []


def test_no_script_or_element_from_endpoint_text_even_without_the_csp(
    browse: Callable[[Path], Loaded], report_file: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "no-csp.html"
    markup = report_file.read_text()
    assert CSP_META.search(markup)
    bare.write_text(CSP_META.sub("", markup))  # escaping alone must hold
    loaded = browse(bare)
    dom = loaded.page
    assert dom.title == "hitcount report"
    assert {e.tag for e in dom.elements} <= ALLOWED_TAGS
    assert not [(e.tag, a) for e in dom.elements for a in e.attrs if a.startswith("on")]
    assert sorted(f.attrs["data-endpoint"] for f in dom.all("figure")) == sorted(HOSTILE)
    assert loaded.page_requests == []


def test_the_page_names_no_resource_to_fetch(report_file: Path) -> None:
    page = Page.parse(report_file.read_text())
    linked = [
        (e.tag, a, v) for e in page.elements for a, v in e.attrs.items() if a in URL_ATTRIBUTES
    ]
    assert linked and all(v.startswith("#") for _, _, v in linked), linked  # in-page links only
    style = next(e.text for e in page.elements if e.tag == "style")
    assert "url(" not in style and "@import" not in style and "//" not in style
    csp = [e.attrs["content"] for e in page.all("meta") if e.attrs.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]


def test_control_a_page_that_runs_a_script_and_fetches_is_caught(
    browse: Callable[[Path], Loaded], tmp_path: Path
) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><title>hitcount report</title>"
        "<p>/<script>document.title='pwned'</script></p>"
        '<img src="http://leak.example/x.png">'
    )
    loaded = browse(control)
    assert loaded.page.title == "pwned"
    assert [_host(r) for r in loaded.page_requests] == ["leak.example"]


@pytest.mark.skipif(
    not (REAL_LOGS / HONEYNET).is_file() and os.environ.get("CI") != "true",
    reason=f"real access logs not found in {REAL_LOGS} (set HITCOUNT_REAL_LOGS)",
)
def test_real_xss_probes_from_a_honeypot_log_stay_text(
    browse: Callable[[Path], Loaded], state_env: Path, tmp_path: Path
) -> None:
    log = REAL_LOGS / HONEYNET
    probe = "/~/<script>alert('Vulnerable')</script>.aspx"
    with gzip.open(log, "rt", encoding="latin-1") as lines:
        line = next(line for line in lines if f"GET {probe} " in line)
    stamp = re.search(r"\[([^\]]+)\]", line)
    assert stamp is not None
    now = datetime.strptime(stamp.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
    ok(["replay", str(log), "-s", "sliding", "--max-window", str(366 * 86400)])  # all of 2004
    out = tmp_path / "honeypot.html"
    ok(["report", str(out), "--now", str(now), "--last", "10", "--step", "1", "--top", "100"])
    loaded = browse(out)  # an alert() that ran would block the load until the timeout
    dom = loaded.page
    charted = [f.attrs["data-endpoint"] for f in dom.all("figure")]
    assert probe in charted and probe.replace(".aspx", ".asp") in charted
    assert dom.title == "hitcount report"
    assert {e.tag for e in dom.elements} <= ALLOWED_TAGS
    assert loaded.page_requests == []
