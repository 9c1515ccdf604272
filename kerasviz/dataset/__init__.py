"""Many images in: dataset exemplars, the feature map (embedding), image streams and first-layer kernels."""
