"""torchvision's segmentation models (``torchvision.models.segmentation``), built from minseg ops.

``fcn_resnet50`` and ``deeplabv3_resnet50`` (and their ResNet-101 versions) have torchvision's module names (``backbone``,
``classifier``, ``aux_classifier``) and forward: the ResNet-50 backbone at output stride 8 (layer3 and
layer4 dilated), a head on layer4 (and, with ``aux_loss``, an FCN head on layer3), each upsampled
bilinearly (align_corners=False) to the input size, returned as a dict ``{"out": ..., "aux": ...}``.
So ``tv_model.state_dict()`` loads unchanged and the logits agree
(``minseg.reference.interop.from_torchvision`` / ``to_torchvision``).

- ``FCNHead(in_channels, channels)``: 3x3 conv to in_channels/4, BN, ReLU, dropout 0.1, 1x1 classifier.
- ``ASPP(in_channels, rates)``: a 1x1 branch, one dilated 3x3 branch per rate, the image-level branch
  (global average pool, 1x1 conv, BN, ReLU, upsampled back), concatenated and projected to 256
  channels (BN, ReLU, dropout 0.5). ``DeepLabHead`` = ASPP (rates 12, 24, 36) + 3x3 conv + 1x1.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .resnet import ResNet


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
    """Conv2d (no bias, 'same' padding) + BatchNorm2d + ReLU, as torchvision's heads stack them."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2),
                      dilation=dilation, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()]


def _resize(x, size):
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class FCNHead(nn.Sequential):
    """torchvision's FCNHead: [conv3x3 -> in/4, BN, ReLU, Dropout(0.1), conv1x1 -> channels]."""

    def __init__(self, in_channels: int, channels: int):
        inter = in_channels // 4
        super().__init__(*_conv_bn_relu(in_channels, inter, 3), nn.Dropout(0.1), nn.Conv2d(inter, channels, 1))


class ASPPPooling(nn.Sequential):
    """The image-level branch: global average pool, 1x1 conv, BN, ReLU, then upsampled to the input."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_channels, out_channels, 1))

    def forward(self, x):
        return _resize(super().forward(x), x.shape[-2:])


class ASPP(nn.Module):
    """torchvision's ASPP: ``convs`` (1x1, one 3x3 per rate, pooling) concatenated, then ``project``."""

    def __init__(self, in_channels: int, atrous_rates=(12, 24, 36), out_channels: int = 256):
        super().__init__()
        branches = [nn.Sequential(*_conv_bn_relu(in_channels, out_channels, 1))]
        branches += [nn.Sequential(*_conv_bn_relu(in_channels, out_channels, 3, rate)) for rate in atrous_rates]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(*_conv_bn_relu(len(branches) * out_channels, out_channels, 1),
                                     nn.Dropout(0.5))

    def forward(self, x):
        return self.project(F.cat([branch(x) for branch in self.convs], 1))


class DeepLabHead(nn.Sequential):
    """torchvision's DeepLabHead: ASPP(in_channels, (12, 24, 36)), 3x3 conv + BN + ReLU, 1x1 classifier."""

    def __init__(self, in_channels: int, num_classes: int, atrous_rates=(12, 24, 36)):
        super().__init__(ASPP(in_channels, atrous_rates), *_conv_bn_relu(256, 256, 3),
                         nn.Conv2d(256, num_classes, 1))


class SegmentationModel(nn.Module):
    """torchvision's ``_SimpleSegmentationModel`` (the FCN and DeepLabV3 classes): backbone features,
    ``classifier`` on layer4, optional ``aux_classifier`` on layer3, both resized to the input."""

    def __init__(self, backbone, classifier, aux_classifier=None):
        super().__init__()
        self.backbone, self.classifier = backbone, classifier
        if aux_classifier is not None:
            self.aux_classifier = aux_classifier

    def forward(self, x) -> dict:
        aux = hasattr(self, "aux_classifier")
        features = self.backbone.features(x, ("layer3", "layer4") if aux else ("layer4",))
        result = {"out": _resize(self.classifier(features["layer4"]), x.shape[-2:])}
        if aux:
            result["aux"] = _resize(self.aux_classifier(features["layer3"]), x.shape[-2:])
        return result


def _build(architecture: str, head, num_classes: int, aux_loss: bool) -> SegmentationModel:
    blocks = (3, 4, 23, 3) if architecture.endswith("101") else (3, 4, 6, 3)
    backbone = ResNet(blocks, num_classes=None, replace_stride_with_dilation=(False, True, True))
    model = SegmentationModel(backbone, head, FCNHead(1024, num_classes) if aux_loss else None)
    model.config = dict(architecture=architecture, num_classes=num_classes, aux_loss=aux_loss)
    return model


def fcn_resnet50(num_classes: int = 21, aux_loss: bool = False) -> SegmentationModel:
    """torchvision.models.segmentation.fcn_resnet50's architecture (randomly initialised)."""
    return _build("fcn_resnet50", FCNHead(2048, num_classes), num_classes, aux_loss)


def deeplabv3_resnet50(num_classes: int = 21, aux_loss: bool = False) -> SegmentationModel:
    """torchvision.models.segmentation.deeplabv3_resnet50's architecture (randomly initialised)."""
    return _build("deeplabv3_resnet50", DeepLabHead(2048, num_classes), num_classes, aux_loss)


def fcn_resnet101(num_classes: int = 21, aux_loss: bool = False) -> SegmentationModel:
    """torchvision.models.segmentation.fcn_resnet101's architecture (randomly initialised)."""
    return _build("fcn_resnet101", FCNHead(2048, num_classes), num_classes, aux_loss)


def deeplabv3_resnet101(num_classes: int = 21, aux_loss: bool = False) -> SegmentationModel:
    """torchvision.models.segmentation.deeplabv3_resnet101's architecture (randomly initialised)."""
    return _build("deeplabv3_resnet101", DeepLabHead(2048, num_classes), num_classes, aux_loss)


ARCHITECTURES = {"fcn_resnet50": fcn_resnet50, "deeplabv3_resnet50": deeplabv3_resnet50,
                 "fcn_resnet101": fcn_resnet101, "deeplabv3_resnet101": deeplabv3_resnet101}
