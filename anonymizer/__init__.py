"""anonymizer: find every face in a photo and replace it."""

import os as _os

# The repository keeps three of the package's parts at its top, models/, gui/ and weights/; installed
# (pip install ., or -e .), they are anonymizer.models, anonymizer.gui and anonymizer.weights. A checkout
# run without installing (PYTHONPATH=., as on the accelerator) finds them here instead.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "models")) and _os.path.isfile(
    _os.path.join(_checkout, "models", "networks.py")
):
    __path__.append(_checkout)

from anonymizer.faces import Face, ImageResult  # noqa: E402 -- after the path above
from anonymizer.pipeline import Anonymizer  # noqa: E402

__all__ = ["Anonymizer", "Face", "ImageResult"]
__version__ = "0.1.0"
