"""anonymizer: find every face in a photo and replace it."""

from anonymizer.faces import Face, ImageResult
from anonymizer.pipeline import Anonymizer

__all__ = ["Anonymizer", "Face", "ImageResult"]
__version__ = "0.1.0"
