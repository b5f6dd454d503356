"""ResNet with torchvision's exact layout (``torchvision.models.resnet``), built from minseg ops.

The module names are torchvision's (``conv1``, ``bn1``, ``layer1`` ... ``layer4`` of ``Bottleneck``
blocks with ``conv1/bn1/conv2/bn2/conv3/bn3`` and ``downsample``, ``fc``), so a torchvision
``state_dict()`` loads unchanged (``minseg.reference.interop.from_torchvision``).

torchvision's ResNet v1.5 puts a block's stride on its 3x3 convolution. For segmentation,
``replace_stride_with_dilation=(False, True, True)`` keeps layer3 and layer4 at the resolution of
layer2 (output stride 8): their stride-2 step becomes stride 1, and every 3x3 convolution from there
on is dilated (2 in layer3, 4 in layer4) so the receptive field still grows as if they had strided.
The first block of a dilated layer keeps the *previous* dilation, as torchvision's ``_make_layer`` does.
"""
from __future__ import annotations

from .. import nn


class Bottleneck(nn.Module):
    """relu(identity + bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))): 1x1 reduce, 3x3 (stride,
    dilation), 1x1 expand by ``expansion``; ``downsample`` (1x1 conv + BN) projects the identity when
    the shape changes."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    """``ResNet(layers=(3, 4, 6, 3))`` is ResNet-50. ``num_classes=None`` leaves out ``avgpool``/``fc``
    (the backbone torchvision's segmentation models keep); ``features(x)`` returns every layer's
    output by name, which is what those models read (``layer3`` for the auxiliary head, ``layer4``)."""

    def __init__(self, layers=(3, 4, 6, 3), num_classes: int | None = 1000,
                 replace_stride_with_dilation=(False, False, False), in_channels: int = 3):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers needs 4 block counts (layer1..layer4), got {tuple(layers)}")
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("ResNet: replace_stride_with_dilation needs 3 booleans (layer2..layer4), "
                             f"got {tuple(replace_stride_with_dilation)}")
        self.inplanes, self.dilation = 64, 1
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        for index, (planes, dilate) in enumerate(zip((128, 256, 512), replace_stride_with_dilation)):
            setattr(self, f"layer{index + 2}", self._make_layer(planes, layers[index + 1], 2, dilate))
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False):
        """``blocks`` Bottlenecks; with ``dilate`` the stride is traded for dilation (torchvision's rule)."""
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, previous_dilation)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x, names=("layer1", "layer2", "layer3", "layer4")) -> dict:
        """{'layer1': ..., 'layer4': ...}: the outputs of the layers in ``names`` (stem: conv1, bn1, relu,
        maxpool). As torchvision's IntermediateLayerGetter, only those are kept: the segmentation models
        read layer4 (and layer3 for the auxiliary head), and holding layer1/layer2 (which at 520x520 are
        as large as layer4's output) through the head would only raise the peak memory."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = {}
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if name in names:
                out[name] = x
        return out

    def forward(self, x):
        if not hasattr(self, "fc"):
            raise RuntimeError("ResNet: built with num_classes=None (a backbone); call features(x)")
        pooled = self.avgpool(self.features(x, ("layer4",))["layer4"])
        return self.fc(pooled.reshape(pooled.shape[0], -1))


def resnet50(num_classes: int | None = 1000, replace_stride_with_dilation=(False, False, False)) -> ResNet:
    """torchvision's ``resnet50`` layout (3, 4, 6, 3 Bottlenecks), randomly initialised."""
    return ResNet((3, 4, 6, 3), num_classes, replace_stride_with_dilation)
