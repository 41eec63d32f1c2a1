"""The crowd benchmark's count of the faces the generator painted, from a run's report."""

from __future__ import annotations

import json

from benchmarks.crowd import generator_share, markdown


def test_the_generators_share_counts_its_faces_and_why_the_others_fell_back(tmp_path):
    face = {"box": [0, 0, 10, 10], "score": 0.9}
    report = {
        "version": 1,
        "images": [
            {"input": "a.jpg", "faces": [{**face, "method": "gan"}, {**face, "method": "gan"}]},
            {
                "input": "b.jpg",
                "faces": [
                    {**face, "method": "pixelate", "fallback": "smaller than gan's 20 px"},
                    {**face, "method": "pixelate", "fallback": "not alignable: a profile"},
                    {**face, "method": "pixelate", "fallback": "not alignable: outside the box"},
                ],
            },
            {"input": "c.jpg", "status": "failed"},  # an image that failed holds no faces
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    share = generator_share(path)
    assert share == {"faces": 5, "gan": 2, "fallback": {"smaller than gan's 20 px": 1, "not alignable": 2}}
    result = {
        "settings": {"photos": 3, "which": "all", "faces": 5, "machine": "x", "command": "c", "date": "d"},
        "painted": {"ours: gan": share},
        "hidden": {},
    }
    text = markdown(result)
    assert "| ours: gan | 5 | 2 (40.0%) | not alignable: 2; smaller than gan's 20 px: 1 |" in text
