"""Detectors kept for comparison only, none of them in the default: YuNet (with its verifier, MTCNN's O-Net),
MTCNN, and the union of several detectors (the default before the CenterFace cascade was YuNet with its verifier
and CenterFace together). ``make_detector`` (:mod:`anonymizer.detection.registry`) builds them by name, and
``benchmarks/detection.py`` measures them beside the default."""
