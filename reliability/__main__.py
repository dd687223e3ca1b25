"""``python -m reliability [--bounded] [--only fuzz,crash,...]``: run the suite, print the table
of figures at the end and write it to ``bench-out/reliability.json`` (docs/reliability.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from reliability import backup, concurrency, crash, faults, fuzz, privacy, scale
from reliability.common import Figure, StoreSpec, print_table
from reliability.servers import moto_server

FULL = {
    "fuzz": 2000,
    "crash_files": 100,
    "crash_trials": 20,
    "predict_trials": 5,
    "concurrency_rounds": 5,
    "faults_files": 100,
    "backup_files": 100,
    "scale": 10_000,
}
BOUNDED = {
    "fuzz": 300,
    "crash_files": 30,
    "crash_trials": 3,
    "predict_trials": 1,
    "concurrency_rounds": 3,
    "faults_files": 40,
    "backup_files": 12,
    "scale": 1000,
}
CONCERNS = ("fuzz", "crash", "concurrency", "faults", "privacy", "backup", "scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bounded", action="store_true", help="CI sizes")
    parser.add_argument("--only", default=",".join(CONCERNS), help="comma-separated concerns")
    parser.add_argument("--out", type=Path, default=Path("bench-out/reliability.json"))
    args = parser.parse_args(argv)
    size = BOUNDED if args.bounded else FULL
    only = [c for c in args.only.split(",") if c]
    figures: list[Figure] = []
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp, moto_server() as endpoint:
        root = Path(tmp)
        for concern in only:
            start = time.monotonic()
            work = root / concern
            if concern == "fuzz":
                found, _ = fuzz.run(
                    n=size["fuzz"], workdir=work, store_spec=StoreSpec.local(work / "store")
                )
            elif concern == "crash":
                found = crash.run(
                    workdir=work,
                    endpoint=endpoint,
                    n_files=size["crash_files"],
                    trials=size["crash_trials"],
                    predict_trials_n=size["predict_trials"],
                )
            elif concern == "concurrency":
                found = concurrency.run(
                    workdir=work, endpoint=endpoint, rounds=size["concurrency_rounds"]
                )
            elif concern == "faults":
                found = faults.run(workdir=work, endpoint=endpoint, files=size["faults_files"])
            elif concern == "privacy":
                found = privacy.run(workdir=work, endpoint=endpoint)
            elif concern == "backup":
                found = backup.run(workdir=work, endpoint=endpoint, files=size["backup_files"])
            elif concern == "scale":
                found = scale.run(workdir=work, endpoint=endpoint, records=size["scale"])
            else:
                parser.error(f"unknown concern {concern!r} (one of {', '.join(CONCERNS)})")
            seconds[concern] = round(time.monotonic() - start, 1)
            print(f"--- {concern}: {seconds[concern]} s", flush=True)
            print_table(found)
            figures += found
            _write(args.out, figures, seconds, size)
    print("\n=== reliability: every figure ===")
    print_table(figures)
    unmet = [f for f in figures if not f.met]
    print(f"{len(figures) - len(unmet)}/{len(figures)} figures met; seconds: {seconds}")
    return 1 if unmet else 0


def _write(
    out: Path, figures: list[Figure], seconds: dict[str, float], size: dict[str, int]
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"sizes": size, "seconds": seconds, "figures": [dataclasses.asdict(f) for f in figures]}
    out.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    sys.exit(main())
