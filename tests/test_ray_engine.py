"""The Ray Data engine: the local engine's outputs, byte for byte, and its report, on a local Ray with 2 CPUs."""

from __future__ import annotations

import json
import logging
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
from test_bad_inputs import jpeg_bytes, png_claiming

from anonymizer import Anonymizer, cli
from anonymizer.batch import Batch, BatchOptions

ANONYMIZE = [sys.executable, "-m", "anonymizer.cli"]


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module: 2 CPUs, no dashboard; RayBatch runs in it (and leaves it running)."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    # The work functions below run in Ray's workers, which cannot import this test module: send them by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ray
    ray.shutdown()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _folder(root: Path, copies: int = 2, broken: bool = True) -> Path:
    """The samples, ``copies`` times over in sub-folders, and a file that is not a photo."""
    for i in range(copies):
        sub = root / f"set_{i}"
        sub.mkdir(parents=True)
        for sample in sorted(SAMPLES.glob("*.jpg")):
            shutil.copyfile(sample, sub / sample.name)
    if broken:
        (root / "set_0" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _report(entries) -> list[dict]:
    return sorted((entry.to_dict() for entry in entries), key=lambda e: e["input"])


def _local(src: Path, out: Path, method: str, options: BatchOptions | None = None) -> Batch:
    batch = Batch(Anonymizer(method=method), src, out, options)
    batch.run()
    return batch


@pytest.mark.parametrize("method", ["solid", "pixelate", "blur"])
def test_the_same_files_and_report_as_the_local_engine(tmp_path, ray_session, method):
    from anonymizer.ray_engine import RayBatch

    src = _folder(tmp_path / "in")
    before = tree_hashes(src)
    local = _local(src, tmp_path / "local", method)
    seen = []
    batch = RayBatch(Anonymizer(method=method), src, tmp_path / "ray", workers=2, photos_per_task=2)
    entries = batch.run(progress=lambda entry, done, total: seen.append((done, total)))
    assert _files(tmp_path / "ray") == _files(tmp_path / "local") and len(_files(tmp_path / "local")) == 4
    assert _report(entries) == _report(local.entries)
    assert [e.input for e in entries] == [e.input for e in local.entries]  # kept in the order of the jobs
    assert seen == [(i, 5) for i in range(1, 6)]  # one progress call per file, as they came back
    assert batch.count("error") == 1 and batch.faces_hidden == local.faces_hidden >= 2 * 5
    assert batch.summary() == local.summary().replace(str(tmp_path / "local"), str(tmp_path / "ray"))
    assert tree_hashes(src) == before


def test_bad_inputs_fail_closed_as_locally(tmp_path, ray_session):
    from anonymizer.ray_engine import RayBatch

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.jpg").write_text("a shopping list, not a photo\n")
    whole = jpeg_bytes(3)
    (src / "sub" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (src / "huge.png").write_bytes(png_claiming(100_000, 100_000))
    (src / "big.jpg").write_bytes(jpeg_bytes(4))  # 64x80: over the --max-pixels given below
    Image.new("RGB", (40, 40)).save(src / "sub" / "small.png")
    os.symlink(src / "deleted.jpg", src / "sub" / "gone.jpg")
    os.mkfifo(src / "pipe.jpg")  # would block a reader forever
    options = BatchOptions(max_pixels=64 * 80 - 1)
    local = _local(src, tmp_path / "local", "solid", options)
    batch = RayBatch(Anonymizer(method="solid"), src, tmp_path / "ray", options, workers=2)
    entries = batch.run()
    assert _report(entries) == _report(local.entries)
    errors = {e.input: e.error for e in entries if e.status == "error"}
    assert sorted(errors) == [
        "big.jpg",
        "empty.jpg",
        "huge.png",
        "pipe.jpg",
        "sub/gone.jpg",
        "sub/truncated.jpg",
        "text.jpg",
    ]
    assert "not a regular file" in errors["pipe.jpg"] and "too large" in errors["huge.png"]
    assert sorted(_files(tmp_path / "ray")) == ["sub/small.png"] and _files(tmp_path / "ray") == _files(
        tmp_path / "local"
    )


DIES_ONCE, DIES_ALWAYS = {"03.jpg", "07.jpg"}, "10.jpg"


def _dies_once_or_always(anonymizer, job, options, sources):
    """An actor's work for the test below: a photo of DIES_ONCE kills its actor's process on its first try (a
    marker beside the input remembers it), DIES_ALWAYS on every try, after writing its output."""
    from anonymizer.ray_engine import default_work

    marker = job.source.with_name(job.source.name + ".died")
    if job.name == DIES_ALWAYS or (job.name in DIES_ONCE and not marker.exists()):
        marker.write_text("")
        if job.name == DIES_ALWAYS:
            default_work(anonymizer, job, options, sources)
        os._exit(3)
    return default_work(anonymizer, job, options, sources)


def test_a_killed_actors_photos_are_retried_once_then_fail(tmp_path, ray_session):
    from anonymizer.ray_engine import RayBatch

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    names = [f"{i:02d}.jpg" for i in range(12)]  # groups of 3: a dying photo first, in the middle, last but one
    for name in names:
        shutil.copyfile(SAMPLES / "astronaut.jpg", src / name)
    out.mkdir()
    (out / "05.jpg").write_bytes(b"from an earlier run")  # not this run's: kept, and skipped
    batch = RayBatch(Anonymizer(method="pixelate"), src, out, workers=2, photos_per_task=3, work=_dies_once_or_always)
    entries = batch.run()
    by_name = {entry.input: entry for entry in entries}
    assert sorted(by_name) == names, "every photo reported once"
    assert by_name[DIES_ALWAYS].status == "error" and "stopped on this file, twice" in by_name[DIES_ALWAYS].error
    assert not (out / DIES_ALWAYS).exists(), "the report says failed: no output of its lost tries is left"
    assert by_name["05.jpg"].status == "skipped" and (out / "05.jpg").read_bytes() == b"from an earlier run"
    ok = sorted(name for name, entry in by_name.items() if entry.status == "ok")
    assert ok == sorted(set(names) - {DIES_ALWAYS, "05.jpg"})  # those that died once, and those lost beside them
    assert all((src / (name + ".died")).exists() for name in DIES_ONCE)
    _local(src / "00.jpg", tmp_path / "local", "pixelate")
    assert all((out / name).read_bytes() == (tmp_path / "local" / "00.jpg").read_bytes() for name in ok)


def test_the_cli_engine_ray_writes_what_the_local_engine_writes(tmp_path, ray_session, capsys):
    src = _folder(tmp_path / "in", copies=1)
    reports = {}
    for engine in ("local", "ray"):
        report = tmp_path / f"{engine}.json"
        code = cli.main(
            [
                *("--input", str(src), "--out", str(tmp_path / engine), "--report", str(report)),
                *("--method", "solid", "--engine", engine, "--workers", "2", "-q"),
            ]
        )
        assert code == 1  # broken.jpg failed
        reports[engine] = json.loads(report.read_text())
    err = capsys.readouterr().err
    assert err.count("set_0/broken.jpg: not an image") == 2
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    assert reports["ray"] == reports["local"]


def _wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_run_stopped_by_sigterm_resumes(tmp_path, ray_session):
    src = _folder(tmp_path / "in", copies=20, broken=False)
    out, report = tmp_path / "out", tmp_path / "report.json"
    argv = [*ANONYMIZE, "--input", str(src), "--out", str(out), "--report", str(report), "--method", "solid"]
    argv += ["--engine", "ray", "--workers", "2", "-q"]
    # A local Ray of its own, in a process group of its own signalled as a whole, as `timeout` does.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert _wait_for(lambda: out.exists() and any(out.rglob("*.jpg")), 120), "no output appeared"
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "terminated" in err
    images = json.loads(report.read_text())["images"]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert 0 < len(images) < 40
    assert sorted(e["input"] for e in images if e["status"] == "ok") == written  # every output reported, only those
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left behind
    first = {name: (out / name).read_bytes() for name in written}
    # Resumed (in this process, on the module's Ray): the rest is written, what was there is skipped.
    code = cli.main([str(a) for a in argv[3:]])
    assert code == 0
    resumed = {e["input"]: e["status"] for e in json.loads(report.read_text())["images"]}
    assert len(resumed) == 40 and sorted(n for n, s in resumed.items() if s == "skipped") == written
    assert all((out / name).read_bytes() == data for name, data in first.items())
    _local(src, tmp_path / "local", "solid")
    assert _files(out) == _files(tmp_path / "local")


def test_without_the_extra_engine_ray_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    src = _folder(tmp_path / "in", copies=1)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    code = cli.main(["--input", str(src), "--out", str(tmp_path / "out"), "--engine", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and "anonymizer[ray]" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--input", "s3://bucket/photos", "--out", "{tmp}/o", "--engine", "ray"], "storage URLs are not supported"),
        (["--input", "{in}", "--out", "gs://bucket/anon", "--engine", "ray"], "storage URLs are not supported"),
        (["--input", "{in}", "--out", "{tmp}/o", "--ray-address", "auto"], "only used with --engine ray"),
    ],
)
def test_engine_usage_errors_exit_2(tmp_path, capsys, argv, message):
    pytest.importorskip("ray")
    src = _folder(tmp_path / "in", copies=1)
    code = cli.main([a.format(tmp=tmp_path, **{"in": src}) for a in argv])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_videos_one_per_task_as_locally(tmp_path, ray_session):
    from test_video import _video_frames, make_clip

    from anonymizer.ray_engine import RayBatch

    src = tmp_path / "in"
    (src / "clips").mkdir(parents=True)
    make_clip(src / "clips" / "a.mp4", frames=12)
    make_clip(src / "clips" / "b.mp4", frames=8, audio=False)
    shutil.copyfile(SAMPLES / "astronaut.jpg", src / "astronaut.jpg")
    local = _local(src, tmp_path / "local", "blur")
    batch = RayBatch(Anonymizer(method="blur"), src, tmp_path / "ray", workers=2)
    assert batch._groups(list(range(len(batch.jobs)))) == [[1], [2], [0]]  # each video alone, first
    entries = batch.run()
    assert _report(entries) == _report(local.entries) and [e.frames for e in entries] == [None, 12, 8]
    ray_files, local_files = _files(tmp_path / "ray"), _files(tmp_path / "local")
    assert sorted(ray_files) == sorted(local_files) and ray_files["astronaut.jpg"] == local_files["astronaut.jpg"]
    # Two local runs of a clip differ in a few container bytes too: the frames are what must be the same. The
    # report above says the same faces were hidden in the same places; the encoder (x264, its threads chosen by
    # itself) now and then codes one of the two clips a little differently in an actor (pixels off by up to 10 of
    # 255 in a run of 8 frames, identical in most runs), so the frames are compared within that noise: a face
    # left unhidden, or hidden elsewhere, differs by far more.
    for name in ("clips/a.mp4", "clips/b.mp4"):
        ray_frames, local_frames = _video_frames(tmp_path / "ray" / name), _video_frames(tmp_path / "local" / name)
        assert len(ray_frames) == len(local_frames)
        for r, f in zip(ray_frames, local_frames):
            diff = np.abs(r.astype(np.int16) - f.astype(np.int16))
            assert diff.max() <= 16 and diff.mean() < 1.0, f"{name}: a frame differs beyond the encoder's noise"
