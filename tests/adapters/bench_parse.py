"""Parsing throughput of the CSV adapters (not a test: run it by hand).

    .venv/bin/python -m tests.adapters.bench_parse [rows] [--profile] [--isolated]

Prints rows/s (CPU and wall clock, best of 5) for ``canonical_csv`` and
``cn_gbk_csv`` contacts files of realistic rows (about 1 in 6 a promise to pay),
parsed and validated through the plugin manager as the upload pipeline does. The
files are built in memory and read as streams. ``--profile`` adds a cProfile table.
``--isolated`` parses in a child process, as uploads are (``portal.plugins.isolation``): CPU is
then the parent's alone, and wall clock is the figure to compare.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time

from portal.plugins import ParseContext, ParsedRow, build_plugin_manager, parse
from portal.plugins.isolation import Isolation, isolated_parse

ISOLATED = False

CANONICAL_HEADER = (
    "case_ref,contacted_at,channel,party,phone,outcome,connected,duration_s,"
    "promise_amount,promise_date,collector_id,recording_ref,notes"
)
CN_HEADER = (
    "案件编号,催收时间,催收方式,联系对象,联系电话,催收结果,承诺金额,承诺还款日期,"
    "催收员,录音编号,备注,是否接通,通话时长(秒)"
)


def canonical_csv(rows: int) -> bytes:
    lines = [CANONICAL_HEADER]
    for i in range(rows):
        seconds = i % 86400
        moment = f"2026-02-{1 + i % 28:02d} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if i % 6 == 5:
            outcome, connected, amount, day = "promise_to_pay", "true", "500.00", "2026-12-31"
        else:
            outcome, connected, amount, day = "no_answer", "", "", ""
        lines.append(
            f"BX{i:08d},{moment},call,debtor,{13000000000 + i},{outcome},{connected},{i % 600},"
            f"{amount},{day},C{i % 50:03d},R{i},"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def cn_gbk_csv(rows: int) -> bytes:
    lines = [CN_HEADER]
    for i in range(rows):
        seconds = i % 86400
        moment = f"2026/02/{1 + i % 28:02d} {seconds // 3600:02d}:{seconds // 60 % 60:02d}"
        if i % 6 == 5:
            outcome, connected, amount, day = "承诺还款", "是", '"￥1,500.00"', "2026/12/31"
        else:
            outcome, connected, amount, day = "未接通", "否", "", ""
        note = "客户称下周还款" if i % 10 == 0 else ""
        lines.append(
            f"ZY{i:09d},{moment},电话,本人,{13000000000 + i},{outcome},{amount},{day},"
            f"ZC{i % 50:03d},REC{i},{note},{connected},{i % 600}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def run(pm: object, format_key: str, data: bytes) -> tuple[int, int, float, float]:
    """(records, issues, CPU seconds, wall seconds) of parsing ``data`` once."""
    cpu, wall = time.process_time(), time.perf_counter()
    records = issues = 0
    stream, context = io.BytesIO(data), ParseContext("contacts")
    if ISOLATED:
        items = isolated_parse(pm, format_key, stream, context, isolation=Isolation(mode="always"))  # type: ignore[arg-type]
    else:
        items = parse(pm, format_key, stream, context, strict=True)  # type: ignore[arg-type]
    for item in items:
        if isinstance(item, ParsedRow):
            records += 1
        else:
            issues += 1
    return records, issues, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str]) -> None:
    rows = int(next((arg for arg in argv if arg.isdigit()), "100000"))
    profile = "--profile" in argv
    global ISOLATED
    ISOLATED = "--isolated" in argv
    import adapters.canonical
    import adapters.cn_gbk_csv

    pm = build_plugin_manager(
        load_entrypoints=False, plugins=[("canonical", adapters.canonical), ("cn_gbk_csv", adapters.cn_gbk_csv)]
    )
    for format_key, data in (("canonical_csv", canonical_csv(rows)), ("cn_gbk_csv", cn_gbk_csv(rows))):
        run(pm, format_key, data[:20000])  # warm up imports and caches
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
        results = [run(pm, format_key, data) for _ in range(5)]
        if profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        records, issues = results[0][:2]
        cpu = min(result[2] for result in results)
        wall = min(result[3] for result in results)
        # Best of 5; CPU time is the steadier figure on a shared machine.
        print(
            f"{format_key:14s} {rows} rows: {records} records, {issues} issues; "
            f"CPU {cpu:.2f} s = {rows / cpu:,.0f} rows/s; wall {wall:.2f} s = {rows / wall:,.0f} rows/s"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
