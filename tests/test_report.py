"""``remotefix report`` / ``kb draft`` / ``regress --html`` on a real case, rendered by real
headless Chromium: sections in order, nothing secret, nothing fetched, readable when narrow."""

from __future__ import annotations

import http.server
import re
import shlex
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.consent import ConsentStore, Scope
from remotefix.sandbox import Customer
from remotefix.workspace import Workspace
from tests.fixtures.browser import dump_dom, page_width, screenshot
from tests.fixtures.cli import cli_json
from tests.fixtures.docker import KeyPair

pytestmark = pytest.mark.docker

SECTIONS = ["summary", "timeline", "environment", "triage", "lab", "reproduction", "fix", "audit"]
SECRET = "Report-Secret-771"
CASE = "C-REPORT"


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def trap() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that counts every request a page makes to it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"REMOTEFIX_HOME": str(home)})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def case_home(
    tmp_path_factory: pytest.TempPathFactory, customer: Customer, client_key: KeyPair,
    docker_api: docker.DockerClient, trap: str,
) -> Path:  # fmt: skip
    """A workspace holding a real case: consent (with hostile text), two diagnoses over SSH."""
    home = tmp_path_factory.mktemp("report-home")
    ws = Workspace(home).ensure()
    job = f"0 4 * * * root DB_PASSWORD={SECRET} /usr/local/bin/job | tee x\n"
    code, out = docker_api.containers.get(customer.name).exec_run(
        ["sh", "-c", f"printf %s {shlex.quote(job)} > /etc/cron.d/report-job"]
    )
    assert code == 0, out
    ws.known_hosts.write_text(customer.known_hosts_line + "\n")
    with ConsentStore(ws) as store:
        store.grant(CASE, [customer.address], Scope.DIAGNOSE, timedelta(minutes=10),
                    "<script>document.title='pwned'</script> Ann | IT",
                    f'ticket 7 <img src="{trap}/leak.png">')  # fmt: skip
    address = f"{customer.address}?identity_file={client_key.private}"
    for profile in ("full", "quick"):
        code, out = _cli(home, "diagnose", address, "--case", CASE, "--profile", profile,
                         "-o", str(home / f"{profile}.tar.gz"))  # fmt: skip
        assert code == 0, out
    return home


@pytest.fixture(scope="module")
def page(case_home: Path) -> Path:
    path = case_home / "report.html"
    code, out = _cli(case_home, "report", CASE, "-o", str(path))
    assert code == 0, out
    return path


def test_sections_in_order_with_the_case_facts(page: Path) -> None:
    dom = dump_dom(page)
    ids = re.findall(r'<section id="([a-z]+)"', dom)
    assert ids == SECTIONS
    assert "Debian GNU/Linux 12 (bookworm)" in dom
    assert re.search(r"<td>diagnose</td>", dom), "the timeline groups the diagnose phase"
    assert "chain verified" in dom


def test_nothing_secret_nothing_fetched_nothing_executed(page: Path, trap: str) -> None:
    before = len(_Counter.hits)
    dom = dump_dom(page)
    assert len(_Counter.hits) == before, _Counter.hits  # the browser fetched nothing
    assert "<title>Case C-REPORT" in dom  # the planted script did not run (title intact)
    assert "<img" not in dom and "<script" not in dom  # hostile text is text
    assert "&lt;img src=" in dom
    text = page.read_text()
    assert SECRET not in text and "Content-Security-Policy" in text
    assert not re.search(r'(src|href)="(https?:)?//', text)


def test_readable_in_a_narrow_window(page: Path, tmp_path: Path) -> None:
    narrow = page_width(page, width=390)
    assert narrow["scroll"] <= narrow["inner"], narrow  # tables scroll inside, the page does not
    screenshot(page, tmp_path / "narrow.png", width=390, height=1400)
    screenshot(page, tmp_path / "wide.png", width=1200, height=1400)


def test_markdown_for_tickets(case_home: Path) -> None:
    path = case_home / "report.md"
    code, out = _cli(case_home, "report", CASE, "-o", str(path))
    assert code == 0, out
    text = path.read_text()
    heads = re.findall(r"^## (\w+)", text, re.M)
    assert [h.lower() for h in heads] == SECTIONS
    assert "Ann \\| IT" in text  # a pipe in a value never breaks the table
    assert SECRET not in text


def test_unknown_case_is_one_line(case_home: Path) -> None:
    code, out = _cli(case_home, "report", "C-NOPE", "-o", str(case_home / "x.html"))
    assert code == 70 and out.count("\n") == 1 and "C-NOPE" in out, out
    assert not (case_home / "x.html").exists()
    code, out = _cli(case_home, "report", CASE, "-o", str(case_home / "x.pdf"))
    assert code == 3 and "--format" in out


def test_kb_draft_and_a_case_skeleton_that_lints(case_home: Path) -> None:
    article, skeleton = case_home / "kb.md", case_home / "ki-9000.yaml"
    code, out = _cli(case_home, "kb", "draft", CASE, "-o", str(article),
                     "--case-file", str(skeleton))  # fmt: skip
    assert code == 0, out
    heads = re.findall(r"^## (.+)$", article.read_text(), re.M)
    assert heads[:4] == ["Symptom", "Affected environment", "Cause", "Resolution"]
    assert "Debian GNU/Linux 12" in article.read_text()
    code, lint = cli_json("case", "lint", str(skeleton))
    assert code == 0, lint
    again = case_home / "kb-again.md"
    code, out = _cli(case_home, "kb", "draft", CASE, "-o", str(again), "--case-file", str(skeleton))
    assert code == 3 and "exists" in out and not again.exists()  # nothing written at all


def test_regress_page_and_junit_from_the_same_run(tmp_path: Path) -> None:
    case = tmp_path / "page.yaml"
    case.write_text(f"""\
id: KI-{uuid.uuid4().int % 9000 + 1000}
title: "echo <b>works</b>"
matrix: [debian:12]
repro:
  - run: echo hello
    expect: {{output_contains: hello}}
reproduces_on: {{debian:12: true}}
""")
    junit, html = tmp_path / "junit.xml", tmp_path / "out" / "matrix.html"
    code, rows = cli_json("regress", str(case), "--junit", str(junit), "--html", str(html))
    assert code == 0, rows
    suite = ET.parse(junit).getroot()  # noqa: S314 (our own file)
    assert suite.get("timestamp")
    title = suite.find("testcase/properties/property[@name='title']")
    assert title is not None and title.get("value") == "echo <b>works</b>"
    dom = dump_dom(html)
    assert 'data-status="as declared"' in dom and "&lt;b&gt;works" in dom
    link = re.search(r'<a href="([^"]+)">evidence</a>', dom)
    assert link and (html.parent / link.group(1)).resolve() == Path(rows[0]["evidence"]).resolve()
