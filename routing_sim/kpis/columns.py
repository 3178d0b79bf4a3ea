"""Reading a table several times, a chunk of :data:`CHUNK` rows at a time, from Parquet or memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1 << 18
"""Rows per chunk of the KPI step (about 10 MB for the visit columns it reads)."""


class Columns:
    """A table that can be read several times, a chunk of :data:`CHUNK` rows at a time, as numpy
    arrays of the columns asked for. Chunks are cut at the same row numbers whatever the source
    (Parquet row groups, Arrow batches), so sums come out the same to the last bit."""

    def __init__(self, names: list[str], num_rows: int, batches: Callable[[list[str]], Iterable[pa.RecordBatch]]):
        self.names = names
        self.num_rows = num_rows
        self._batches = batches

    @classmethod
    def of_table(cls, table: pa.Table) -> Columns:
        return cls(table.column_names, table.num_rows, lambda names: table.select(names).to_batches())

    @classmethod
    def of_parquet(cls, path: Path) -> Columns:
        """A Parquet file, read a row group at a time: ``iter_batches`` pre-buffers column chunks
        ahead, measured at 680 MB for 20 M visits against 170 MB a row group at a time."""
        file = pq.ParquetFile(path)

        def batches(names: list[str]) -> Iterator[pa.RecordBatch]:
            reader = pq.ParquetFile(path)
            for i in range(reader.num_row_groups):
                yield from reader.read_row_group(i, columns=names).to_batches()

        return cls(file.schema_arrow.names, file.metadata.num_rows, batches)

    def chunks(self, names: list[str]) -> Iterator[dict[str, np.ndarray]]:
        held: list[pa.RecordBatch] = []
        n = 0
        for batch in self._batches(names):
            held.append(batch)
            n += batch.num_rows
            while n >= CHUNK:
                table = pa.Table.from_batches(held)
                yield _arrays(table.slice(0, CHUNK), names)
                rest = table.slice(CHUNK)
                held, n = rest.to_batches(), rest.num_rows
        if n:
            yield _arrays(pa.Table.from_batches(held), names)


def _arrays(table: pa.Table, names: list[str]) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy() for name in names}
