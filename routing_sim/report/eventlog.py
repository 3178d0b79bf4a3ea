"""A run's visits as a process-mining event log: ``events.csv`` and ``events.xes``.

One case per entity, one ``start`` and one ``complete`` event per stage visit
(a visit still waiting at the horizon has none, one still in service only its
start). Columns and keys are those process-mining tools read:
``case:concept:name``, ``concept:name`` (the stage), ``time:timestamp`` (ISO
8601, UTC, from the config's ``time.start`` plus the simulated hours),
``org:resource`` (the stage's pool, or ``system`` for a stage without one) and
``lifecycle:transition``; ``case:kind`` says what the entity is.

Large logs are streamed: visits are read in Parquet batches, one range of case
ids at a time (memory is bounded by the range, not by the run), and each case's
events are written together, in the order they happened.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr

import numpy as np
import pyarrow.parquet as pq

from routing_sim.errors import RunError
from routing_sim.folders import verify_files
from routing_sim.report.study import read_json
from routing_sim.yamlio import read_yaml

CASES_PER_PASS = 250_000
BATCH_ROWS = 500_000
CSV_COLUMNS = ("case:concept:name", "concept:name", "time:timestamp", "org:resource", "lifecycle:transition",
               "case:kind")
LIFECYCLE = ("start", "complete")
XES_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <global scope="trace"><string key="concept:name" value="__INVALID__"/></global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>
"""


class LogSource:
    """A run folder's tables and codes, read for the event log."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        for name in ("manifest.json", "config.resolved.yaml"):
            if not (self.folder / name).is_file():
                raise RunError(f"not a complete run folder: no {name} (an event log needs one run's tables)")
        manifest = read_json(self.folder / "manifest.json")
        for name in ("visits.parquet", "entities.parquet"):
            if not (self.folder / name).is_file():
                kept = manifest.get("records")
                why = f"the run kept records '{kept}' only; " if kept else ""
                raise RunError(f"no {name}: {why}an event log needs every visit (routing-sim run --records visits)")
        if manifest.get("status") != "ok":
            raise RunError(f"the run's status is {manifest.get('status')!r}, not 'ok'")
        verify_files(self.folder, manifest)
        self.codes = manifest["codes"]
        config = read_yaml(self.folder / "config.resolved.yaml")[0]
        start = config["time"]["start"]
        self.start = np.datetime64(start if isinstance(start, str) else start.isoformat(), "us")
        self.config_name = config.get("name", "")
        self.resources = [(config["stages"][s].get("pool") or "system") for s in self.codes["stages"]]
        # a copy a split pool made of a stage is the same activity, done by the copy's pool
        original = {copy: stage for split in (config.get("splits") or {}).values()
                    for stage, copies in split["stages"].items() for copy in copies.values()}
        self.activities = [original.get(s, s) for s in self.codes["stages"]]
        self.entities = pq.read_table(self.folder / "entities.parquet")

    def case_ids(self, max_cases: int | None) -> np.ndarray:
        ids = np.sort(self.entities.column("entity").to_numpy())
        return ids[:max_cases] if max_cases else ids

    def visits(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """The started visits of cases ``lo <= entity < hi``, in the order they were recorded."""
        parts: list[dict[str, np.ndarray]] = []
        reader = pq.ParquetFile(self.folder / "visits.parquet")
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=["entity", "stage", "start", "end"]):
            cols = {name: batch.column(name).to_numpy() for name in ("entity", "stage", "start", "end")}
            keep = (cols["entity"] >= lo) & (cols["entity"] < hi) & ~np.isnan(cols["start"])
            parts.append({k: v[keep] for k, v in cols.items()})
        merged = {k: np.concatenate([p[k] for p in parts]) for k in ("entity", "stage", "start", "end")}
        order = np.argsort(merged["entity"], kind="stable")  # a case's visits stay in recorded (time) order
        return {k: v[order] for k, v in merged.items()}

    def timestamps(self, hours: np.ndarray) -> np.ndarray:
        stamps = self.start + np.round(hours * 3.6e9).astype("timedelta64[us]")
        return np.char.add(np.datetime_as_string(stamps, unit="ms"), "+00:00")


def events(src: LogSource, cases: np.ndarray, per_pass: int = CASES_PER_PASS) -> Iterator[dict[str, np.ndarray]]:
    """Events of ``cases`` in chunks: ``case, stage, time (ISO), lifecycle`` arrays, grouped by case."""
    for first in range(0, cases.size, per_pass):
        chunk = cases[first:first + per_pass]
        v = src.visits(int(chunk[0]), int(chunk[-1]) + 1)
        v = {k: a[np.isin(v["entity"], chunk)] for k, a in v.items()}
        n = v["entity"].size
        done = ~np.isnan(v["end"])
        case = np.repeat(v["entity"], 2)
        stage = np.repeat(v["stage"], 2)
        hours = np.column_stack([v["start"], v["end"]]).ravel()
        life = np.tile(np.array([0, 1], dtype=np.int8), n)
        keep = np.column_stack([np.ones(n, dtype=bool), done]).ravel()
        yield {"case": case[keep], "stage": stage[keep], "time": src.timestamps(hours[keep]), "life": life[keep]}


def export_log(folder: Path, max_cases: int | None = None, csv: bool = True, xes: bool = True,
               per_pass: int = CASES_PER_PASS) -> list[Path]:
    """Write ``events.csv`` and/or ``events.xes`` into the run folder; return the paths written."""
    src = LogSource(Path(folder))
    cases = src.case_ids(max_cases)
    kinds = _case_lookup(src, "kind", src.codes["kinds"])
    targets = ([src.folder / "events.csv"] if csv else []) + ([src.folder / "events.xes"] if xes else [])
    temps = [p.with_name(f".{p.name}.tmp-{os.getpid()}") for p in targets]
    with ExitStack() as stack:  # every handle opened is closed, also when a later open fails
        handles = [stack.enter_context(open(t, "w", encoding="utf-8", newline="")) for t in temps]
        writers: list[CsvWriter | XesWriter] = []
        if csv:
            writers.append(CsvWriter(handles[0], src, kinds))
        if xes:
            writers.append(XesWriter(handles[-1], src, kinds))
        for chunk in events(src, cases, per_pass):
            for w in writers:
                w.write(chunk)
        for w in writers:
            w.close()
    for tmp, final in zip(temps, targets, strict=True):
        os.replace(tmp, final)
    return targets


def _case_lookup(src: LogSource, column: str, names: list[str]) -> dict[int, str]:
    ids = src.entities.column("entity").to_numpy()
    codes = src.entities.column(column).to_numpy()
    return {int(i): names[c] if c >= 0 else "" for i, c in zip(ids, codes, strict=True)}


class CsvWriter:
    def __init__(self, fh: IO[str], src: LogSource, kinds: dict[int, str]):
        self.out = csv.writer(fh, lineterminator="\n")
        self.out.writerow(CSV_COLUMNS)
        self.src, self.kinds = src, kinds

    def write(self, chunk: dict[str, np.ndarray]) -> None:
        stages, resources = self.src.activities, self.src.resources
        self.out.writerows((str(c), stages[s], t, resources[s], LIFECYCLE[lf], self.kinds[c])
                           for c, s, t, lf in zip(chunk["case"].tolist(), chunk["stage"].tolist(),
                                                  chunk["time"].tolist(), chunk["life"].tolist(), strict=True))

    def close(self) -> None:
        pass


class XesWriter:
    """XES (IEEE 1849-2016) written as text, one trace per case with its attributes."""

    def __init__(self, fh: IO[str], src: LogSource, kinds: dict[int, str]):
        self.fh, self.src, self.kinds = fh, src, kinds
        self.attributes = _trace_attributes(src)
        fh.write(XES_HEAD)
        fh.write(f'  <string key="concept:name" value={quoteattr(src.config_name)}/>\n')

    def write(self, chunk: dict[str, np.ndarray]) -> None:
        stages, resources = self.src.activities, self.src.resources
        cases = chunk["case"]
        bounds = np.flatnonzero(np.diff(cases)) + 1
        starts = np.concatenate([[0], bounds]).tolist()
        ends = np.concatenate([bounds, [cases.size]]).tolist()
        stage, times, life = chunk["stage"].tolist(), chunk["time"].tolist(), chunk["life"].tolist()
        lines: list[str] = []
        for a, b in zip(starts, ends, strict=True):
            if a == b:
                continue
            case = int(cases[a])
            lines.append(f'  <trace>\n    <string key="concept:name" value="{case}"/>\n')
            lines.extend(f'    <string key={quoteattr(k)} value={quoteattr(v)}/>\n' for k, v in self.attributes(case))
            for i in range(a, b):
                lines.append(f'    <event><string key="concept:name" value="{stages[stage[i]]}"/>'
                             f'<string key="org:resource" value="{resources[stage[i]]}"/>'
                             f'<string key="lifecycle:transition" value="{LIFECYCLE[life[i]]}"/>'
                             f'<date key="time:timestamp" value="{times[i]}"/></event>\n')
            lines.append("  </trace>\n")
        self.fh.write("".join(lines))

    def close(self) -> None:
        self.fh.write("</log>\n")


def _trace_attributes(src: LogSource):
    """Per case: kind, source, outcome (or where it still is) and its attribute values."""
    tab = src.entities
    index = {int(e): i for i, e in enumerate(tab.column("entity").to_numpy())}
    codes = src.codes
    columns = {name: tab.column(name).to_numpy() for name in tab.column_names}
    attrs = [(name[5:], columns[name]) for name in tab.column_names if name.startswith("attr.")]

    def of(case: int) -> list[tuple[str, str]]:
        i = index[case]
        out = [("kind", codes["kinds"][columns["kind"][i]])]
        if columns["source"][i] >= 0:
            out.append(("source", codes["sources"][columns["source"][i]]))
        if columns["parent"][i] >= 0:
            out.append(("parent", str(int(columns["parent"][i]))))
        outcome = columns["outcome"][i]
        out.append(("outcome", codes["outcomes"][outcome] if outcome >= 0 else
                    f"in progress at {codes['stages'][columns['stage'][i]]}"))
        out += [(a, codes["attributes"][a][values[i]]) for a, values in attrs if values[i] >= 0]
        return out

    return of


