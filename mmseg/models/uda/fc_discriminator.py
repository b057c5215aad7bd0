"""The fully convolutional output-space discriminator of AdaptSegNet (docs/REFERENCE.md §3.5)."""
from torch import nn

__all__ = ['FCDiscriminator']


class FCDiscriminator(nn.Module):
    """Softmax map B x C x H x W -> domain logits B x 1 x H/32 x W/32.

    Five 4 x 4 convolutions with stride 2 and padding 1 (C -> 64 -> 128 -> 256 -> 512 -> 1),
    LeakyReLU(0.2) between them.
    """

    def __init__(self, num_classes, ndf=64):
        super().__init__()
        self.conv1 = nn.Conv2d(num_classes, ndf, kernel_size=4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(ndf, ndf * 2, kernel_size=4, stride=2, padding=1)
        self.conv3 = nn.Conv2d(ndf * 2, ndf * 4, kernel_size=4, stride=2, padding=1)
        self.conv4 = nn.Conv2d(ndf * 4, ndf * 8, kernel_size=4, stride=2, padding=1)
        self.classifier = nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=2, padding=1)
        self.leaky_relu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.leaky_relu(conv(x))
        return self.classifier(x)
