"""``anonymize``: hide every face in a photo or a folder of photos.

This module only parses arguments and wires objects together; the work is
done by :class:`anonymizer.batch.Batch` and :class:`anonymizer.Anonymizer`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from anonymizer import __version__
from anonymizer.audit import AUDIT_MODES, DEFAULT_AUDIT
from anonymizer.batch import Batch, BatchPathError, check_paths
from anonymizer.crops import DEFAULT_MASK_SCALE, DEFAULT_MASK_SHAPE, FEATHER, FEATHER_MAX, SHAPES, VIDEO_MASK_SHAPE
from anonymizer.detection import DEFAULT_MIN_FACE, DEFAULT_THRESHOLD, DETECTORS
from anonymizer.device import cpu_count
from anonymizer.imageio import DEFAULT_JPEG_QUALITY, DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS
from anonymizer.pipeline import DEFAULT_METHOD, Anonymizer
from anonymizer.ray_engine import RayEngineError
from anonymizer.replacers import METHODS
from anonymizer.video import CODECS, VIDEO_EXTENSIONS, VideoOptions
from anonymizer.work import BatchOptions, ReportEntry, report_dict, write_report

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_REVIEW = 3  # --fail-on-review: every photo was written, and the audit flagged something in one

EPILOG = f"""\
examples:
  anonymize --input photo.jpg --out anon/
  anonymize --input holiday/ --out holiday_anon/ --report report.json
  anonymize --input holiday/ --out holiday_anon/ --report - -q | jq '.images[].faces | length'
  anonymize --input holiday/ --out holiday_anon/ --method pixelate --overwrite
  anonymize --input scans/ --out scans_anon/ --max-pixels 300000000 --keep-metadata
  anonymize --input interview.mp4 --out anon/ --report report.json
  anonymize --input /shared/archive/ --out /shared/anon/ --report report.json --engine ray --ray-address auto

The output folder mirrors the input: same relative paths, names and formats.
Photos are chosen by extension ({" ".join(IMAGE_EXTENSIONS)}), and videos
({" ".join(VIDEO_EXTENSIONS)}); other files are ignored and counted in the summary.
In a video every frame is anonymized: faces are followed from frame to frame,
so a face the detector misses for a few frames is still hidden, from a little
before it is first found to a little after it is last seen; the frames are
re-encoded (H.264 by default, at the same size, frame rate and timestamps), and
audio and subtitles are copied untouched. The report lists each video's tracks:
where each face was hidden, frame by frame (keyframes). Videos are done after
the photos, one at a time, with a progress bar in frames. Outputs that already exist are skipped
(status "skipped" in the report) unless --overwrite is given, so an interrupted
run resumes where it stopped. A photo that cannot be read or anonymized gets no
output file, an "error" entry in the report and one line on stderr; the others
go on.

A folder is done by one worker process per core (--workers); the outputs, the
report and its order are the same as with --workers 1. Ctrl-C or SIGTERM stops
the run after the photos in progress: no half-written file is left, and the
report lists what was done.

With --engine ray (from anonymizer[ray]) the same job runs on Ray Data: on a
local Ray started for the run, or on the cluster at --ray-address. The input
and the output must be on storage that every node sees at the same path; the
outputs, the report and the exit status are those of the local engine.

Before a photo is written, the audit searches the anonymized photo again with
a second detector family (RetinaFace), upright and turned: a face it finds
outside every hidden region is hidden too when it is sure of it, and flagged
otherwise; the report lists each with its box, score and what happened to it
("residuals"), and the summary says how many photos need a look (--audit). In
a video every fifth frame is searched again, and what it finds is flagged as
time ranges in the report.

exit status: 0 when every photo was written (or already there), 1 when any
failed, 2 for a usage error, 3 with --fail-on-review when all were written but
the audit flagged a possible face in any, 130 when interrupted, 143 when
terminated.
"""


def _number(text: str, kind: type = float, what: str | None = None):
    """``text`` as a ``kind`` (int or float), or argparse's error in words (not "invalid _quality value"):
    "must be ``what``" (by default a number, or a whole number)."""
    try:
        return kind(text)
    except ValueError:
        what = what or ("a whole number" if kind is int else "a number")
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _quality(text: str) -> int:
    value = _number(text, int)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100, got {text}")
    return value


def _crf(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 63, got {text}")
    return value


def _probability(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _mask_scale(text: str) -> float:
    value = _number(text)
    if not value >= 1.0:
        raise argparse.ArgumentTypeError(f"must be at least 1.0 (the face box itself), got {text}")
    return value


def _feather_max(text: str) -> float | None:
    if text.lower() == "none":
        return None
    value = _number(text, float, "a number of pixels, or 'none'")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more pixels, or 'none', got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anonymize",
        description="Find every face in photos and replace it: a generated face (gan), blur, pixelation or a solid fill.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input", "-i", required=True, type=Path, metavar="PATH", help="a photo, or a folder searched recursively"
    )
    parser.add_argument(
        "--out",
        "-o",
        required=True,
        type=Path,
        metavar="DIR",
        help="output folder (created if missing); must not be inside --input",
    )
    parser.add_argument(
        "--method", choices=METHODS, default=DEFAULT_METHOD, help=f"how faces are replaced (default: {DEFAULT_METHOD})"
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE.json",
        help="write a JSON report of every photo and face; '-' writes it to stdout (for scripts; the summary "
        "line then goes to stderr)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--threshold",
        type=_probability,
        default=DEFAULT_THRESHOLD,
        help="score a face needs, 0 to 1; lower hides more, and more that are not faces (default: "
        f"{DEFAULT_THRESHOLD}; the default detector's passes for large and turned faces keep their own, higher ones)",
    )
    parser.add_argument(
        "--min-face-size",
        type=_positive_int,
        default=DEFAULT_MIN_FACE,
        metavar="PX",
        help=f"smallest face searched for, in pixels (default: {DEFAULT_MIN_FACE})",
    )
    parser.add_argument(
        "--mask-scale",
        type=_mask_scale,
        default=DEFAULT_MASK_SCALE,
        metavar="X",
        help=f"hidden region as a multiple of the face box (default: {DEFAULT_MASK_SCALE})",
    )
    parser.add_argument(
        "--mask-shape",
        choices=SHAPES,
        default=None,
        help="the hidden region: the ellipse inscribed in the grown box, or the whole rectangle "
        f"(blur, pixelate, solid; default: {DEFAULT_MASK_SHAPE} in photos, {VIDEO_MASK_SHAPE} in videos)",
    )
    parser.add_argument(
        "--mask-feather-max",
        type=_feather_max,
        default=FEATHER_MAX,
        metavar="PX",
        help="the fade band round the hidden region at most PX pixels wide (blur, pixelate, solid), so that a close-up "
        f"does not blur half the photo round the face; 'none' for a band of {FEATHER:g} of the region's side "
        f"however large (default: {FEATHER_MAX:g})",
    )
    parser.add_argument(
        "--detector",
        choices=DETECTORS,
        default="default",
        help="face detector (default: CenterFace on the photo, scaled down and turned, and RetinaFace, upright "
        "and turned, for the faces CenterFace missed; 'cascade' is the default without RetinaFace; "
        "'default+diagonal' adds CenterFace turned 45, 135, 225 and 315 degrees, for people lying down or a camera "
        "held askew, at about 40 %% more detection time; 'padded' searches a mirrored border for faces cut by the "
        "photo's edge; the others are kept for comparison, see benchmarks/)",
    )
    parser.add_argument(
        "--audit",
        choices=AUDIT_MODES,
        default=DEFAULT_AUDIT,
        help="search each anonymized photo again with a second detector family: hide what it is sure is a face "
        "and flag the rest (hide, the default), only flag (flag), or not at all (off); in a video every fifth "
        "frame is searched again and what it finds is flagged, as time ranges in the report",
    )
    parser.add_argument(
        "--fail-on-review",
        action="store_true",
        help=f"exit with status {EXIT_REVIEW} when the audit flagged a possible face in any photo or video (for "
        "pipelines)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the detector and the generator run (default: auto: CUDA when onnxruntime has it, from "
        "anonymizer[gpu], else the CPU)",
    )
    parser.add_argument(
        "--gan-backend",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="what runs the generator (default: auto: onnxruntime, from the generator.onnx exported beside the "
        "weights; torch, which needs anonymizer[train], for weights without a current export)",
    )
    parser.add_argument("--seed", type=int, help="random seed of the generator, for repeatable gan faces")
    parser.add_argument(
        "--weights", type=Path, metavar="FILE", help="generator weights for --method gan (default: the shipped ones)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace outputs that already exist (default: skip them)"
    )
    parser.add_argument(
        "--keep-metadata",
        action="store_true",
        help="keep EXIF (orientation reset to 1), XMP and comments; by default they are stripped, GPS included",
    )
    parser.add_argument(
        "--jpeg-quality",
        type=_quality,
        default=DEFAULT_JPEG_QUALITY,
        metavar="Q",
        help=f"quality of JPEG and WebP outputs, 1-100 (default: {DEFAULT_JPEG_QUALITY})",
    )
    parser.add_argument(
        "--video-codec",
        choices=tuple(CODECS),
        default=None,
        help="codec of the video outputs (default: h264, vp9 for WebM)",
    )
    parser.add_argument(
        "--video-quality",
        type=_crf,
        default=None,
        metavar="CRF",
        help="video quality as the codec's CRF, lower is better and bigger: 0-51 for h264 and h265, 0-63 for "
        f"vp9 and av1 (default: visually lossless, {', '.join(f'{k} {c.default_quality}' for k, c in CODECS.items())})",
    )
    parser.add_argument(
        "--no-video-edges",
        dest="video_edges",
        action="store_false",
        help="search video frames without the mirrored border that finds faces cut by the frame's edge: "
        "about a fifth faster, and such faces show more often",
    )
    parser.add_argument(
        "--video-search-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="search every N-th video frame for faces; the tracker hides them in the frames between "
        f"(default: {VideoOptions().search_every})",
    )
    parser.add_argument(
        "--video-full-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="search the whole video frame on every N-th searched frame, and the frames between at half size "
        f"(their small faces bridged by the tracker; 1: every frame whole; default: {VideoOptions().full_every})",
    )
    parser.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse larger photos, checked before decoding (default: {DEFAULT_MAX_PIXELS:,})",
    )
    parser.add_argument(
        "--workers",
        "-j",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"photos anonymized at once, each in a process of its own (default: the number of cores, {cpu_count()} here; "
        "1 with --device cuda)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine (default); ray: an actor pool on Ray Data, from "
        "anonymizer[ray], --workers actors (default: one per CPU of the cluster, one per GPU with --device cuda)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="with --engine ray: the running cluster to join (auto, or HOST:PORT of its head); default: start a "
        "local Ray for the run",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no summary when all went well; failures are still printed",
    )
    return parser


def _build_anonymizer(args: argparse.Namespace) -> Anonymizer:
    options = {}
    if args.method == "gan":
        if args.weights is not None:
            options["weights"] = args.weights
        if args.seed is not None:
            options["seed"] = args.seed
        if args.gan_backend != "auto":
            options["backend"] = args.gan_backend
    anonymizer = Anonymizer(
        method=args.method,
        threshold=args.threshold,
        min_face_size=args.min_face_size,
        mask_scale=args.mask_scale,
        mask_shape=args.mask_shape,
        mask_feather_max=args.mask_feather_max,
        device=args.device,
        detector_name=args.detector,
        audit=args.audit,
        **options,
    )
    anonymizer.detector  # noqa: B018 -- load the detector now, so that a failure stops the run before the first photo
    replacer = anonymizer.replacer
    if args.method == "gan" and args.gan_backend == "auto" and getattr(replacer, "backend", None) == "torch":
        # Said once, here, not by each worker: weights without a current export run about twice as slow.
        print(
            f"anonymize: note: {replacer.weights}: {replacer.generator.why_not_onnx}; the generator runs on torch, about twice as slow as on "
            f"onnxruntime. Export it once with: anonymize-train export --onnx --weights {replacer.weights}",
            file=sys.stderr,
        )
    return anonymizer


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits on --help (0) and on usage errors (2)
        return int(stop.code or 0)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s")
    for given, name in ((args.weights is not None, "--weights"), (args.gan_backend != "auto", "--gan-backend")):
        if given and args.method != "gan":
            parser.print_usage(sys.stderr)
            print(f"anonymize: error: {name} is only used with --method gan", file=sys.stderr)
            return EXIT_USAGE
    options = BatchOptions(
        overwrite=args.overwrite,
        keep_metadata=args.keep_metadata,
        jpeg_quality=args.jpeg_quality,
        max_pixels=args.max_pixels,
        video_codec=args.video_codec,
        video_quality=args.video_quality,
        video_edges=args.video_edges,
        video_search_every=args.video_search_every,
        video_full_every=args.video_full_every,
    )
    if args.video_quality is not None:
        codec = CODECS[args.video_codec or "h264"]
        if args.video_quality > codec.max_quality:
            parser.print_usage(sys.stderr)
            print(
                f"anonymize: error: --video-quality for {args.video_codec or 'h264'} must be 0-{codec.max_quality}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if args.ray_address is not None and args.engine != "ray":
        parser.print_usage(sys.stderr)
        print("anonymize: error: --ray-address is only used with --engine ray", file=sys.stderr)
        return EXIT_USAGE
    if args.engine == "ray":
        problem = _ray_problem(args)
        if problem is not None:
            print(f"anonymize: error: {problem}", file=sys.stderr)
            return EXIT_USAGE
    try:
        check_paths(args.input, args.out)  # before any network loads, so a usage error comes at once
    except BatchPathError as err:
        parser.print_usage(sys.stderr)
        print(f"anonymize: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        anonymizer = _build_anonymizer(args)
    except Exception as err:
        print(f"anonymize: error: cannot set up the {args.method} method: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if args.engine == "ray":
            from anonymizer.ray_engine import RayBatch

            batch = RayBatch(anonymizer, args.input, args.out, options, workers=args.workers, address=args.ray_address)
        else:
            batch = Batch(anonymizer, args.input, args.out, options, workers=_workers(args))
    except (BatchPathError, OSError) as err:
        print(f"anonymize: error: {err}", file=sys.stderr)
        return EXIT_FAILED
    return _run(batch, args)


def _ray_problem(args: argparse.Namespace) -> str | None:
    """Why --engine ray cannot run (the extra missing, a storage URL), or None."""
    from anonymizer.ray_engine import RAY_EXTRA, check_storage, ray_available

    if not ray_available():
        return f"--engine ray needs Ray Data: {RAY_EXTRA}"
    try:
        check_storage(args.input, args.out)
    except RayEngineError as err:
        return str(err)
    return None


def _workers(args: argparse.Namespace) -> int:
    if args.workers is not None:
        return args.workers
    return 1 if args.device == "cuda" else cpu_count()


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, ``kill``): stop as on Ctrl-C, leaving the report of what was done."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def _run(batch: Batch, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    for note in batch.notes:
        print(f"anonymize: {note}", file=sys.stderr)
    faces = 0
    bar = tqdm(total=len(batch.jobs), unit="img", file=sys.stderr, disable=args.quiet or None, dynamic_ncols=True)
    bar.set_postfix(faces=0)

    def progress(entry: ReportEntry, done: int, total: int) -> None:
        nonlocal faces
        faces += entry.face_count
        if entry.status == "error":
            tqdm.write(f"anonymize: {entry.input}: {entry.error}", file=sys.stderr)
        bar.set_postfix(faces=faces)
        bar.update(1)

    frames_bar, frames_job = None, None

    def frame_progress(job, done: int, total: int | None) -> None:
        nonlocal frames_bar, frames_job
        if frames_job is not job:
            frames_job = job
            if frames_bar is not None:
                frames_bar.close()
            frames_bar = tqdm(
                total=total,
                desc=job.name,
                unit="frame",
                file=sys.stderr,
                disable=args.quiet or None,
                dynamic_ncols=True,
                leave=False,
                position=1,
            )
        frames_bar.update(done - frames_bar.n)

    interrupted: KeyboardInterrupt | None = None
    failure: RayEngineError | None = None
    main_thread = threading.current_thread() is threading.main_thread()  # signals can only be set there
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        batch.run(progress=progress, frame_progress=frame_progress)
    except KeyboardInterrupt as stop:
        interrupted = stop
    except RayEngineError as err:  # Ray could not start, or the cluster failed: the report says what was done
        failure = err
    finally:
        if frames_bar is not None:
            frames_bar.close()
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the report is written whatever comes next
        bar.close()
    to_stdout = args.report is not None and str(args.report) == "-"
    try:
        if to_stdout:
            json.dump(report_dict(batch.entries), sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        elif args.report is not None:
            write_report(args.report, batch.entries)
    except OSError as err:
        print(f"anonymize: error: cannot write the report {args.report}: {err}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    summary = batch.summary()
    if args.report is not None and not to_stdout:
        summary += f"; report: {args.report}"
    if failure is not None:
        print(f"anonymize: error: {failure}; {summary}", file=sys.stderr)
        return EXIT_FAILED
    if interrupted is not None:
        print(
            f"anonymize: {'terminated' if isinstance(interrupted, _Terminated) else 'interrupted'}: {summary}",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if isinstance(interrupted, _Terminated) else EXIT_INTERRUPTED
    if not batch.ok:
        print(f"anonymize: {summary}", file=sys.stderr)
        return EXIT_FAILED
    if not batch.jobs:
        print(f"anonymize: no photos found in {args.input}", file=sys.stderr)
    if not args.quiet or batch.need_review:
        print(summary, file=sys.stderr if to_stdout else sys.stdout)
    if args.fail_on_review and batch.need_review:
        return EXIT_REVIEW
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
