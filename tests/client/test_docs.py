"""docs/client.md against the client itself: the exit-status table and the commands cannot drift apart."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from portal.client import build_parser
from portal.client.transport import EXIT_AUTH, EXIT_ROWS_REJECTED, EXIT_STATUSES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text(encoding="utf-8")


def documented_exit_statuses() -> dict[int, str]:
    section = DOC.split("### Exit status", 1)[1].split("\n## ", 1)[0]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)}


def test_the_exit_status_table_lists_exactly_the_clients_statuses():
    assert sorted(documented_exit_statuses()) == sorted(EXIT_STATUSES)


def test_the_table_says_what_4_and_5_are_for():
    documented = documented_exit_statuses()
    assert "--fail-on-rejected" in documented[EXIT_ROWS_REJECTED] and "rows_rejected" in documented[EXIT_ROWS_REJECTED]
    assert "unauthorized" in documented[EXIT_AUTH] and "forbidden" in documented[EXIT_AUTH]


def test_help_ends_with_the_same_statuses(capsys):
    help_text = build_parser().format_help()
    listed = re.findall(r"^\s+(\d+)  ", help_text.split("exit statuses:", 1)[1], re.MULTILINE)
    assert sorted(int(code) for code in listed) == sorted(EXIT_STATUSES)


def test_every_command_has_a_section():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    headings = set(re.findall(r"^#{2,3} ([\w-]+)", DOC, re.MULTILINE))
    assert set(commands) <= headings, set(commands) - headings


def test_the_nightly_job_fetches_errors_for_every_rejection():
    job = DOC.split("## A nightly job", 1)[1].split("\n## ", 1)[0]
    assert "--fail-on-rejected" in job
    # The shell case branches of the upload's exit status, each with the lines up to the next one.
    branches = re.split(r"^\s+([\d|*]+)\)", job.split("case $? in", 1)[1].split("esac", 1)[0], flags=re.MULTILINE)
    pairs = zip(branches[1::2], branches[2::2], strict=True)
    fetching = [label for label, body in pairs if "portal-client errors" in body]
    assert fetching == [f"1|{EXIT_ROWS_REJECTED}"]
    assert "doesn't verify receipts" not in DOC and "does not verify receipts" not in DOC
