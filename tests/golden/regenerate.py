"""Regenerate the golden run's KPIs and print every figure that moved: ``make golden``.

The golden KPIs are those of :data:`CONFIG` at its own seed on the default executor, as
``routing-sim run`` writes them to kpis.json (NaN as null).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from routing_sim.api import simulate_config
from routing_sim.jsonio import finite_or_null

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "eu-centre-14d.yaml"
KPIS = HERE / "eu-centre-14d.kpis.json"


def golden_kpis() -> dict[str, Any]:
    """The golden run's KPIs, as JSON would hold them."""
    return json.loads(json.dumps(finite_or_null(simulate_config(CONFIG).kpis), allow_nan=False))


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Every figure that differs, as ``path: old -> new`` (exact comparison)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                out.append(f"{path}/{key}: {'added' if key in new else 'removed'}")
            else:
                out += differences(old[key], new[key], f"{path}/{key}")
        return out
    if old == new and type(old) is type(new):
        return []
    if isinstance(old, float) and isinstance(new, float) and old:
        return [f"{path}: {old!r} -> {new!r} ({(new - old) / abs(old):+.3g} relative)"]
    return [f"{path}: {old!r} -> {new!r}"]


def main() -> int:
    new = golden_kpis()
    old = json.loads(KPIS.read_text(encoding="utf-8")) if KPIS.is_file() else {}
    moved = differences(old, new)
    KPIS.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{KPIS.name}: {len(moved)} figure(s) moved" + (":" if moved else ""))
    for line in moved[:200]:
        print("  " + line)
    if len(moved) > 200:
        print(f"  ... and {len(moved) - 200} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
