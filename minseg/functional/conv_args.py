"""The convolution family's argument checks and output-size formulas under their former module name,
which lecture 02 imports (``conv_args.conv_out_size``). The code lives in
:mod:`minseg.functional.conv.geometry`; new code imports it from there."""
from .conv.geometry import (Geometry, check_conv_inputs, check_output_padding, conv_geometry,  # noqa: F401
                            conv_out_size, output_padding_for, resolve_padding, transpose_geometry,
                            transpose_out_size)
