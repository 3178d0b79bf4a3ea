"""The tables the simulation writes (their schemas) and where their batches go (sinks).

:mod:`routing_sim.engine.output` builds each period's rows as Arrow batches; a sink keeps them
in memory or writes them to a Parquet file, on a writer thread of its own
(:class:`BackgroundSink`), so memory is bounded by the batches in flight, not by the horizon.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq


class Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


class MemorySink:
    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []
        self.schema: pa.Schema | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def close(self) -> None:
        pass

    def table(self, schema: pa.Schema) -> pa.Table:
        return pa.Table.from_batches(self.batches, schema=schema)


ROW_GROUP = 1 << 18
"""Rows per Parquet row group: the KPI step reads a row group at a time, and a period's batch
(often tens of thousands of rows) would make it pay its cost per read many times over."""


class ParquetSink:
    """Writes batches to one Parquet file in row groups of :data:`ROW_GROUP` rows (the last one
    shorter); the caller renames it into place when the run succeeds. The row groups depend only
    on the sequence of batches, so the same rows give the same file."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        # dictionary encoding only for the small integer codes: on times and ids it costs five
        # times the encoding time (200k visits: 220 ms against 40 ms) and makes larger files.
        # Times are stored byte-stream-split (each byte of the floats in a stream of its own), which
        # zstd compresses better: the EU year's visits 84 -> 68 MB, entities 24 -> 22 MB, lossless.
        coded = [f.name for f in schema if f.type in (pa.int32(), pa.int16())]
        floats = [f.name for f in schema if pa.types.is_floating(f.type)]
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd", use_dictionary=coded,
                                        use_byte_stream_split=floats)
        self._held: list[pa.RecordBatch] = []
        self._rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._held.append(batch)
        self._rows += batch.num_rows
        if self._rows >= ROW_GROUP:
            table = pa.Table.from_batches(self._held)
            whole = (self._rows // ROW_GROUP) * ROW_GROUP
            self._writer.write_table(table.slice(0, whole), row_group_size=ROW_GROUP)
            rest = table.slice(whole)
            self._held = rest.to_batches() if rest.num_rows else []
            self._rows = rest.num_rows

    def close(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_batches(self._held), row_group_size=ROW_GROUP)
        self._held, self._rows = [], 0
        self._writer.close()


class BackgroundSink:
    """Hands batches to another sink on a thread of its own, in order, at most ``depth`` at a time.

    Parquet encoding and compression release the GIL, so they run on the second core while the
    simulation goes on (the time-series accumulation, in numpy, shares the GIL); memory stays
    bounded by the queue's depth. A failure in the thread is raised by the next ``write`` or by ``close``.
    """

    _DONE = object()

    def __init__(self, sink: Sink, depth: int = 3):
        self.sink = sink
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._drain, name="routing-sim-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is self._DONE:
                return
            if self.error is None:
                try:
                    self.sink.write(batch)
                except BaseException as exc:  # reported to the simulating thread
                    self.error = exc

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def write(self, batch: pa.RecordBatch) -> None:
        self._raise()
        self._queue.put(batch)

    def stop(self) -> None:
        """Let the thread finish what it holds and end (also after a failure)."""
        if self._thread.is_alive():
            self._queue.put(self._DONE)
            self._thread.join()

    def close(self) -> None:
        self.stop()
        self._raise()
        self.sink.close()


VISITS = pa.schema(
    [
        ("entity", pa.int64()),
        ("stage", pa.int32()),
        ("enter", pa.float64()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("next", pa.int32()),
    ]
)
"""One row per entity per stage visit; times in hours. A visit still open at the
end of the horizon has ``end`` = NaN (and ``start`` = NaN if still waiting) and
``next`` = -1. ``next`` is a place code: stages first, then outcomes."""


ENTITY_FIXED = [
    ("entity", pa.int64()),
    ("kind", pa.int32()),
    ("source", pa.int32()),  # -1: spawned by a stage
    ("parent", pa.int64()),  # -1: none
    ("group", pa.int64()),  # the incident: duplicates of one incident share it; else the entity itself
    ("created", pa.float64()),
    ("origin", pa.float64()),  # when its first ancestor arrived from a source (an arrival: created)
    ("ended", pa.float64()),  # NaN: in progress at the horizon
    ("outcome", pa.int32()),  # -1: in progress
    ("stage", pa.int32()),  # where an in-progress entity is; -1 when finished
]


def entity_schema(attribute_names: Sequence[str], count_names: Sequence[str] = (), mark_names: Sequence[str] = ()
                  ) -> pa.Schema:
    """The fixed columns, ``count.<name>``, ``attr.<name>`` codes, then ``mark.<stage>.<point>``: the
    first time the entity reached each point a deadline measures (NaN: never), so that deadlines
    are computed from the entity rows alone, a batch at a time."""
    fields = list(ENTITY_FIXED)
    fields += [(f"count.{name}", pa.int32()) for name in count_names]
    fields += [(f"attr.{name}", pa.int16()) for name in attribute_names]
    fields += [(f"mark.{name}", pa.float64()) for name in mark_names]
    return pa.schema(fields)
