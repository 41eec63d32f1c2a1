"""The Ray Data engine against the local engine: whole-process time on the WIDER photos, and a two-node cluster.

Reproduce (from the repository root, with the ray extra)::

    .venv/bin/python -m benchmarks.ray_scaling --pause "$(cat data/resume.pid)"
    # writes benchmarks/results/ray_scaling.{json,md}

Photos: the 400 WIDER photos of ``shared/data/wider/images``, read where they
are (the outputs go to a scratch folder). Each command is run as a user runs
it, from a fresh process, timed wall-clock (start-up, model loading, Ray's
start and shutdown, reading and writing included)::

    anonymize --input IMAGES --out OUT --method solid -q                      # local engine, default workers
    anonymize --input IMAGES --out OUT --method solid -q --engine ray         # a local Ray started for the run
    anonymize ... --engine ray --ray-address 127.0.0.1:PORT                   # a cluster started with `ray start`

The local engine and the local Ray alternate ``--repeats`` times and the median
is reported. Then a cluster is simulated on this machine: a head node started with
``ray start --head --num-cpus 1``, timed alone, then with a worker node
(``ray start --address ... --num-cpus 1``) joined, so the two-node figure can be
read per node against the one-node one (the cluster's start is not timed:
it is running before the command, as a cluster is). Every Ray run's outputs
are compared byte for byte with the local engine's, and its report with the
local one's, up to order. ``--crowd 40`` also checks the first 40 crowd photos
of ``benchmarks/crowd.py`` (8 or more faces) the same way. ``--pause PID`` stops
a process that would compete for the CPU while timing. ``ray stop`` ends the
simulated cluster (it stops every Ray of this user on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    ANONYMIZE,
    ROOT,
    add_pause_argument,
    paused,
    write_results,
)
from benchmarks.crowd import (
    choose,
    copy_folder,
)
from benchmarks.detection import DEFAULT_DATA, load_photos

RAY = Path(sys.executable).parent / "ray"
DEFAULT_OUT = ROOT / "benchmarks" / "results"
PORT = 6390  # the simulated cluster's head


# `ray start` of Ray 2.60 makes a token (~/.ray/auth_token) that a client only sends when told to.
CLUSTER_ENV = {**os.environ, "RAY_AUTH_MODE": "token"}


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some photo failed, which the report compares
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.returncode


def run(src: Path, out: Path, report: Path, extra: list[str], env: dict | None = None) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(ANONYMIZE), "--input", str(src), "--out", str(out), "--report", str(report), "--method", "solid", "-q"]
    return timed([*cmd, *extra], env)


def same(a: Path, b: Path, report_a: Path, report_b: Path) -> dict:
    """Whether two runs wrote the same files, byte for byte, and reports with the same entries up to order."""
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    identical = files_a == files_b and all((a / n).read_bytes() == (b / n).read_bytes() for n in files_a)

    def entries(path: Path) -> list:
        return sorted(json.dumps(e, sort_keys=True) for e in json.loads(path.read_text())["images"])

    return {"files": len(files_a), "identical_files": identical, "same_report": entries(report_a) == entries(report_b)}


def ray_cli(*args: str) -> None:
    done = subprocess.run([str(RAY), *args], capture_output=True, text=True, env=CLUSTER_ENV)
    if done.returncode != 0:
        raise SystemExit(f"ray {' '.join(args)} failed:\n{done.stderr[-2000:]}")


def wait_for_nodes(count: int, seconds: float = 60) -> None:
    code = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level=40); "
        "sys.exit(0 if len([n for n in ray.nodes() if n['Alive']]) >= int(sys.argv[2]) else 1)"
    )
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check = [sys.executable, "-c", code, f"127.0.0.1:{PORT}", str(count)]
        if subprocess.run(check, capture_output=True, env=CLUSTER_ENV).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit(f"the simulated cluster did not reach {count} nodes")


def markdown(result: dict) -> str:
    s = result["settings"]
    local, ray_local = result["local"], result["ray_local"]
    lines = [
        f"The Ray Data engine against the local engine: {s['photos']} WIDER photos, `--method solid`, {s['machine']}; "
        f"{s['date']}. Command: `{s['command']}`."
        + (" The process given to --pause was stopped while timing." if s.get("paused") else ""),
        "",
        f"Whole-process wall-clock seconds (start-up, Ray's start and shutdown included), median of {s['repeats']} "
        "alternating runs:",
        "",
        "| engine | seconds | photos/s | / local | same files, byte for byte | same report entries |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        f"| local (`--workers {s['cores']}`, the default) | {local['median']:.1f} | {s['photos'] / local['median']:.2f} | "
        "1.00 | | |",
        f"| ray, a local Ray started for the run | {ray_local['median']:.1f} | {s['photos'] / ray_local['median']:.2f} | "
        f"{ray_local['median'] / local['median']:.2f} | {ray_local['check']['identical_files']} | "
        f"{ray_local['check']['same_report']} |",
        "",
        "A cluster simulated on this machine (`ray start`, one CPU per node; the run joins it with `--ray-address`; "
        "the cluster's own start is not timed):",
        "",
        "| nodes | seconds | photos/s | photos/s per node | same files | same report |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in result["cluster"]:
        rate = s["photos"] / row["seconds"]
        lines.append(
            f"| {row['nodes']} | {row['seconds']:.1f} | {rate:.2f} | {rate / row['nodes']:.2f} | "
            f"{row['check']['identical_files']} | {row['check']['same_report']} |"
        )
    if result.get("crowd"):
        c = result["crowd"]
        lines += [
            "",
            f"The first {c['photos']} crowd photos (8 or more faces), local engine and `--engine ray`: same files byte "
            f"for byte: {c['check']['identical_files']}; same report entries: {c['check']['same_report']}.",
        ]
    if len(result["cluster"]) == 2:
        one, two = result["cluster"]
        lines += [
            "",
            f"Each simulated node is given one CPU, so the second node brings this machine's second core: "
            f"{one['seconds'] / two['seconds']:.2f}x the one-node throughput. What is lost per node is what a node "
            "costs (its raylet and object store, scheduling across two); on real machines each node adds its own "
            "cores.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the WIDER folder (images/ and boxes.csv)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--crowd", type=int, default=40, help="crowd photos checked byte for byte (0: none)")
    ap.add_argument("--no-cluster", action="store_true", help="skip the simulated cluster")
    add_pause_argument(ap)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--name", default="ray_scaling")
    ap.add_argument("--from-json", type=Path, default=None, help="only rewrite the Markdown of this results file")
    args = ap.parse_args(argv)
    if args.from_json:
        args.from_json.with_suffix(".md").write_text(markdown(json.loads(args.from_json.read_text())))
        return 0
    images = args.data / "images"
    photos = sorted(p for p in images.rglob("*") if p.is_file())
    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    result: dict = {"cluster": []}
    try:
        with paused(args.pause):
            times = {"local": [], "ray_local": []}
            for r in range(args.repeats):
                for engine in ("local", "ray_local") if r % 2 == 0 else ("ray_local", "local"):
                    extra = ["--engine", "ray"] if engine == "ray_local" else []
                    seconds, _ = run(images, work / engine, work / f"{engine}.json", extra)
                    times[engine].append(round(seconds, 2))
                    print(f"{engine}: {seconds:.1f} s", file=sys.stderr, flush=True)
            result["local"] = {"runs": times["local"], "median": statistics.median(times["local"])}
            result["ray_local"] = {
                "runs": times["ray_local"],
                "median": statistics.median(times["ray_local"]),
                "check": same(work / "local", work / "ray_local", work / "local.json", work / "ray_local.json"),
            }
            if not args.no_cluster:
                address = f"127.0.0.1:{PORT}"
                common = ["--num-cpus", "1", "--disable-usage-stats"]
                try:
                    ray_cli("start", "--head", "--port", str(PORT), "--include-dashboard", "false", *common)
                    wait_for_nodes(1)
                    for nodes in (1, 2):
                        if nodes == 2:
                            ray_cli("start", "--address", address, *common)
                            wait_for_nodes(2)
                        name = f"cluster{nodes}"
                        extra = ["--engine", "ray", "--ray-address", address]
                        seconds, _ = run(images, work / name, work / f"{name}.json", extra, CLUSTER_ENV)
                        print(f"{nodes} node(s): {seconds:.1f} s", file=sys.stderr, flush=True)
                        check = same(work / "local", work / name, work / "local.json", work / f"{name}.json")
                        result["cluster"].append({"nodes": nodes, "seconds": round(seconds, 2), "check": check})
                finally:
                    subprocess.run([str(RAY), "stop", "--force"], capture_output=True)
            if args.crowd:
                crowd = choose(load_photos(args.data), "crowd")[: args.crowd]
                folder = work / "crowd"
                copy_folder(crowd, folder, png=False)
                run(folder, work / "crowd-local", work / "crowd-local.json", [])
                run(folder, work / "crowd-ray", work / "crowd-ray.json", ["--engine", "ray"])
                check = same(
                    work / "crowd-local", work / "crowd-ray", work / "crowd-local.json", work / "crowd-ray.json"
                )
                result["crowd"] = {"photos": len(crowd), "check": check}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])])
    import ray

    result["settings"] = {
        "photos": len(photos),
        "repeats": args.repeats,
        "cores": os.cpu_count(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, CPU only",
        "ray": ray.__version__,
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "paused": args.pause is not None,
    }
    write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
