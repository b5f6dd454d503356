"""The convolution family: unfold (im2col), fold (col2im), conv2d, conv_transpose2d, conv_matrix.

- ``ops.py``: the public ops and their Functions (forward + backward, GEMM over im2col columns);
- ``geometry.py``: argument checks and output-size arithmetic (``Geometry``, padding rules);
- ``reference.py``: the plain loops, ``<op>_reference`` with the op's own signature;
- ``columns.py``: the ndarray helpers of the GEMM path (im2col / col2im, layouts, the 1x1 product);
- ``bands.py``: conv2d's forward for large convolutions (bands of output rows, blocks of taps);
- ``taps.py``: the blocks of the output grid on which taps that read only padding can be left out;
- ``subpixel.py``: conv_transpose2d as s*s interleaved stride-1 convolutions (strides that divide the kernel);
- ``winograd.py``: 3x3 stride-1 conv2d by Winograd's F(4x4, 3x3) or F(2x2, 3x3) tiles (4x or 2.25x fewer
  multiplications), its tile transforms in ``winograd_kernels.py``;
- ``kernels.py``: the Numba kernels (im2col / col2im, depthwise convolution);
- ``matrix.py``: conv_matrix, the convolution as a dense matrix (the lectures draw it);
- ``workspace.py``: reusable scratch buffers and a GEMM helper for the fast path.
"""
from .matrix import conv_matrix
from .ops import conv2d, conv_transpose2d, fold, unfold
from .reference import conv2d_reference, conv_transpose2d_reference, fold_reference, unfold_reference

__all__ = ["unfold", "fold", "conv2d", "conv_transpose2d", "conv_matrix", "unfold_reference", "fold_reference",
           "conv2d_reference", "conv_transpose2d_reference"]
