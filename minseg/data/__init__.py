"""Data for the course, all generated or shipped with the installed packages (nothing downloads).

- :mod:`minseg.data.digits`: ``DigitScenes`` / ``make_digit_scenes``, scenes of handwritten digits
  with semantic and instance labels (``CLASSES``: background, '0' ... '9').
- :mod:`minseg.data.photos`: ``sample_photo(name)``, scikit-image's sample photographs.
"""
from .digits import CLASSES, NUM_CLASSES, DigitScenes, digit_samples, make_digit_scenes  # noqa: F401
from .photos import SAMPLE_PHOTOS, sample_photo  # noqa: F401

__all__ = ["CLASSES", "NUM_CLASSES", "DigitScenes", "digit_samples", "make_digit_scenes",
           "SAMPLE_PHOTOS", "sample_photo"]
