"""apr: Attribute-Person Recognition (Lin et al., Pattern Recognition 2019), reproducibly."""

__version__ = "0.1.0"
