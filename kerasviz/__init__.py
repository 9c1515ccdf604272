"""kerasviz: see what Keras convolutional networks have learned."""

from kerasviz import metrics
from kerasviz.attribution import randomized_copy, saliency
from kerasviz.dataset.embedding import embed_2d, image_features, nearest_neighbours
from kerasviz.dataset.exemplars import dataset_exemplars
from kerasviz.dataset.kernels import kernel_pictures
from kerasviz.errors import KerasvizError
from kerasviz.io import load_image
from kerasviz.models import MODELS, conv_layers, load_model, model_info
from kerasviz.optvis import objectives
from kerasviz.optvis.render import visualize_filters
from kerasviz.segmentation import cartoon, colour_regions, segment
from kerasviz.synthesis.dream import deep_dream
from kerasviz.synthesis.style import style_transfer

__all__ = [
    "MODELS",
    "KerasvizError",
    "cartoon",
    "colour_regions",
    "conv_layers",
    "dataset_exemplars",
    "deep_dream",
    "embed_2d",
    "image_features",
    "kernel_pictures",
    "load_image",
    "load_model",
    "metrics",
    "model_info",
    "nearest_neighbours",
    "objectives",
    "randomized_copy",
    "saliency",
    "segment",
    "style_transfer",
    "visualize_filters",
]
