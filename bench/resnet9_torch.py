"""The ExPLAIND paper's CIFAR-2 ResNet-9 (no batch norm, no bias) in PyTorch, module for module as
examples/cifar2/model.hpp, so that named_parameters() lists pathgrad's names in pathgrad's order.
The one PyTorch definition of this network: bench/train_peer.py and
tests/fixtures/make_cifar2_fixture.py import it."""
import torch.nn.functional as F
from torch import nn


class ConvRelu(nn.Module):
    """relu(conv(x)), a bias-free square convolution: [N, in, H, W] -> [N, out, OH, OW]."""

    def __init__(self, cin, cout, kernel, stride, padding):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)

    def forward(self, x):
        return F.relu(self.conv(x))


class ResidualBlock(nn.Module):
    """x + relu(conv2(relu(conv1(x)))), two 3x3 convolutions (padding 1): [N, C, H, W] -> same."""

    def __init__(self, channels):
        super().__init__()
        self.block1 = ConvRelu(channels, channels, 3, 1, 1)
        self.block2 = ConvRelu(channels, channels, 3, 1, 1)

    def forward(self, x):
        return x + self.block2(self.block1(x))


class ResNet9(nn.Module):
    """images [N, 3, 32, 32] -> log-probabilities [N, classes]; width w = 64 is the paper's
    (2,271,168 parameters). PyTorch's default initialisation."""

    def __init__(self, width=64, classes=2):
        super().__init__()
        w = width
        self.conv1 = ConvRelu(3, w, 3, 1, 1)
        self.conv2 = ConvRelu(w, 2 * w, 5, 2, 2)
        self.res1 = ResidualBlock(2 * w)
        self.conv3 = ConvRelu(2 * w, 4 * w, 3, 1, 1)
        self.res2 = ResidualBlock(4 * w)
        self.conv4 = ConvRelu(4 * w, 2 * w, 3, 1, 0)
        self.head = nn.Linear(2 * w, classes, bias=False)

    def forward(self, images):
        x = self.conv2(self.conv1(images))              # [N, 2w, 16, 16]
        x = self.res1(x)
        x = F.max_pool2d(self.conv3(x), 2)              # [N, 4w, 8, 8]
        x = self.conv4(self.res2(x))                    # [N, 2w, 6, 6]
        x = F.adaptive_max_pool2d(x, 1).flatten(1)      # [N, 2w]
        return F.log_softmax(self.head(x), 1)           # [N, classes]
