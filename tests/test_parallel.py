"""Folder runs with worker processes: the same outputs and report as one worker, and clean stops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, tree_hashes
from PIL import Image

from anonymizer import Anonymizer
from anonymizer.batch import Batch

ANONYMIZE = [sys.executable, "-m", "anonymizer.cli"]


def _folder(root: Path, copies: int) -> Path:
    """The samples, several times over, in sub-folders, with a photo that fails in the middle."""
    root.mkdir()
    for i in range(copies):
        sub = root / f"set_{i}"
        sub.mkdir()
        for sample in sorted(SAMPLES.glob("*.jpg")):
            shutil.copyfile(sample, sub / sample.name)
    (root / "set_0" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


def _hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_workers_write_the_same_files_and_report_as_one(tmp_path):
    src = _folder(tmp_path / "in", 3)
    before = tree_hashes(src)
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        seen = []
        batch = Batch(Anonymizer(method="pixelate"), src, out, workers=workers)
        entries = batch.run(progress=lambda entry, done, total, seen=seen: seen.append((entry.input, done, total)))
        runs[workers] = (entries, _hashes(out), seen)
    (one, files_one, seen_one), (two, files_two, seen_two) = runs[1], runs[2]
    assert [e.to_dict() for e in two] == [e.to_dict() for e in one]
    assert files_two == files_one and len(files_one) == 6
    assert seen_two == seen_one  # progress in the order of the photos, counted alike
    assert [e.status for e in one].count("error") == 1 and sum(len(e.faces) for e in one) >= 3 * 5
    assert tree_hashes(src) == before


def test_a_pipeline_given_its_own_parts_runs_in_this_process(tmp_path):
    from conftest import FakeDetector

    src = _folder(tmp_path / "in", 1)
    fake = FakeDetector([(10, 10, 60, 60)])
    batch = Batch(Anonymizer(method="solid", detector=fake), src, tmp_path / "out", workers=4)
    batch.run()
    assert fake.calls == 2  # the two readable photos, here: a worker could not have used the fake
    assert batch.count("ok") == 2 and batch.count("error") == 1


def _wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_stopped_run_leaves_whole_files_and_a_valid_report(tmp_path, sig, code, word):
    src = _folder(tmp_path / "in", 40)
    out, report = tmp_path / "out", tmp_path / "report.json"
    proc = subprocess.Popen(
        [*ANONYMIZE, "--input", str(src), "--out", str(out), "--report", str(report), "--workers", "2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, signalled as a whole like a terminal's Ctrl-C or `timeout`
        # as from a terminal: a test runner started in the background (`cmd &`) passes SIGINT on ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert _wait_for(lambda: out.exists() and any(out.rglob("*.jpg")), 120), "no output appeared"
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert word in err
    images = json.loads(report.read_text())["images"]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert 0 < len(images) < 81
    assert sorted(e["input"] for e in images if e["status"] == "ok") == written  # every output reported, and only those
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left behind
    for name in written:
        with Image.open(out / name) as im:
            im.load()  # whole, decodable files


def test_a_folder_of_odd_entries_finishes_with_each_reported(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copyfile(SAMPLES / "astronaut.jpg", src / "sub" / "ok.jpg")
    os.mkfifo(src / "pipe.jpg")  # would block a reader forever
    os.symlink(src / "missing.jpg", src / "gone.jpg")  # a dangling link
    os.symlink(src, src / "sub" / "loop")  # a directory loop
    Image.new("RGB", (12000, 9000), (90, 120, 150)).save(src / "huge.png")  # 108 megapixels
    report = tmp_path / "report.json"
    done = subprocess.run(
        [*ANONYMIZE, "--input", str(src), "--out", str(tmp_path / "out"), "--report", str(report), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    entries = {e["input"]: e for e in json.loads(report.read_text())["images"]}
    assert entries["sub/ok.jpg"]["status"] == "ok" and entries["sub/ok.jpg"]["faces"]
    assert "not a regular file" in entries["pipe.jpg"]["error"]
    assert "no such file" in entries["gone.jpg"]["error"]
    assert "too large" in entries["huge.png"]["error"] and "108 megapixels" in entries["huge.png"]["error"]
    assert "sub/loop: a link to a folder, not followed" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["ok.jpg"]
    assert np.asarray(Image.open(tmp_path / "out" / "sub" / "ok.jpg")).shape == (512, 512, 3)


def _dies_on_marked_photos(job):
    """Worker work for the test below: a photo named die*.jpg kills its process, as a crash in a decoder would."""
    from anonymizer.parallel import _process

    if job.source.name.startswith("die"):
        os._exit(3)
    return _process(job)


def _run_copies(sample: Path, src: Path, out: Path, names: list[str], work):
    """Copies of ``sample`` named ``names`` in ``src``, pixelated into ``out`` by two workers running ``work``:
    (finished, jobs, [(position, entry)] as delivered)."""
    from anonymizer.batch import BatchOptions, ImageJob
    from anonymizer.parallel import run_in_workers

    jobs = []
    for name in names:
        shutil.copyfile(sample, src / name)
        jobs.append(ImageJob(src / name, out / name, name))
    delivered: list = []
    finished = run_in_workers(
        Anonymizer(method="pixelate").recipe,
        jobs,
        BatchOptions(),
        frozenset(),
        2,
        lambda position, entry: delivered.append((position, entry)),
        work=work,
    )
    return finished, jobs, delivered


@pytest.mark.parametrize("deaths", [1, 2, 8])
def test_a_worker_that_dies_fails_only_its_photo_and_the_run_goes_on(tmp_path, deaths, caplog):
    from anonymizer.parallel import MAX_RESTARTS

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    sample = sorted(SAMPLES.glob("*.jpg"))[0]
    names = [f"{i:02d}.jpg" for i in range(12)]
    for i in range(deaths):  # the second photo, then every third (then the rest from the start)
        names[1 + 3 * i if 1 + 3 * i < len(names) else i] = f"die{i}.jpg"
    finished, jobs, delivered = _run_copies(sample, src, out, names, _dies_on_marked_photos)
    assert finished and sorted(p for p, _ in delivered) == list(range(len(jobs))), "every photo reported once"
    by_name = {entry.input: entry for _, entry in delivered}
    died = [n for n in names if n.startswith("die")]
    assert all(by_name[n].status == "error" and "worker process stopped" in by_name[n].error for n in died)
    written = {p.name for p in out.iterdir()} if out.exists() else set()
    assert not set(died) & written, "nothing written for a photo whose worker died"
    ok = {n for n in names if by_name[n].status == "ok"}
    assert ok <= written
    # Each death breaks the pool it was retried alone in, and one pool before that, shared with any other
    # photo that killed its worker in the same flight: 2 deaths break 3 or 4 pools, as the timing falls (and
    # no pool starts after the MAX_RESTARTS-th fresh one breaks).
    broken = sum("a worker process stopped" in r.getMessage() for r in caplog.records)
    assert min(deaths + 1, MAX_RESTARTS + 1) <= broken <= min(2 * deaths, MAX_RESTARTS + 1)
    if broken <= MAX_RESTARTS:
        # The photos in flight beside the dying one were tried again: each is written and reported so.
        assert ok == written == set(names) - set(died)
    else:  # past MAX_RESTARTS fresh pools, the photos left are failed rather than tried forever
        assert by_name[names[-1]].status == "error"


def _dies_after_writing(job):
    """Worker work for the test below: a photo named wd*.jpg is written, then its process dies before the
    result comes back (as a crash while tidying up would)."""
    from anonymizer.parallel import _process

    entry = _process(job)
    if job.source.name.startswith("wd"):
        os._exit(3)
    return entry


def test_a_photo_that_fails_after_its_output_was_written_leaves_no_output(tmp_path):

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    sample = sorted(SAMPLES.glob("*.jpg"))[0]
    names = ["00.jpg", "wd.jpg", "02.jpg", "03.jpg"]
    out.mkdir()
    (out / "03.jpg").write_bytes(b"from an earlier run")  # not this run's: kept (and skipped)
    _, _, delivered = _run_copies(sample, src, out, names, _dies_after_writing)
    by_name = {entry.input: entry for _, entry in delivered}
    assert by_name["wd.jpg"].status == "error" and "worker process stopped" in by_name["wd.jpg"].error
    assert not (out / "wd.jpg").exists(), "the report says failed: no output of its lost tries is left"
    assert by_name["00.jpg"].status == by_name["02.jpg"].status == "ok" and by_name["03.jpg"].status == "skipped"
    assert (out / "03.jpg").read_bytes() == b"from an earlier run"
