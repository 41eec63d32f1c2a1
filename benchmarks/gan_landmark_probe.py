"""Where the aligned generator's identity leak comes from: the same weights, given the template's landmarks.

The aligned generator is conditioned on five landmark heatmaps. In the aligned frame the similarity transform
puts every face's landmarks near the template's, but not on them: what is left (the eyes' spacing against the
mouth's, the nose's offset) is the face's own proportions, which a face recogniser reads. This probe runs
``benchmarks/quality.py`` unchanged, except that every face the GAN paints is given the template's five
points (``anonymizer.align.template_points``) instead of its own. Same photos, same faces, same latent codes
(the codes hash the masked crop, which the landmarks do not change), so its figures sit beside those of the
plain run of the same weights (a curve row's kept report, ``benchmarks/results/quality_<design>_<steps>.md``).

    .venv/bin/python -m benchmarks.gan_landmark_probe --weights training/aligned_pose/generator.safetensors \\
        --methods gan --limit 3000 --realism-faces 500 --realism-min-size 100 --wider-limit 0 --seed 0 \\
        --threads 1 --reid-queries 0 --out /tmp/probe --samples-dir /tmp/probe

Every option is quality.py's but ``--landmarks pose``, which gives every face the template's points moved to
its coarse pose instead (``anonymizer.align.posed_template``); the report is quality.py's ``quality.md`` /
``quality.json`` in ``--out``.
The substitution is the product's own (``models.config.painted_landmarks``, what a generator trained with
``--landmarks template`` is given): here it is forced on weights trained on each face's own landmarks.
"""

from __future__ import annotations


def template_landmarks(mode: str = "template") -> None:
    """Make every GanReplacer paint with the template's landmarks (or, ``mode="pose"``, the template's moved to
    each face's coarse pose): its generator's config says so."""
    from dataclasses import replace

    import anonymizer.gan as gan

    plain = gan.GanReplacer.__init__

    def with_template(self, *args, **kwargs):
        plain(self, *args, **kwargs)
        self.generator.config = replace(self.generator.config, landmarks=mode)

    gan.GanReplacer.__init__ = with_template


def main(argv: list[str] | None = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    mode = "template"
    if "--landmarks" in argv:  # the probe's own option; every other one is quality.py's
        at = argv.index("--landmarks")
        mode = argv[at + 1]
        del argv[at : at + 2]
        if mode not in ("template", "pose"):
            raise SystemExit(f"--landmarks must be template or pose, not {mode!r}")
    template_landmarks(mode)
    from benchmarks import quality

    return quality.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
