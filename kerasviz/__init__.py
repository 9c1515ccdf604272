"""kerasviz: see what Keras convolutional networks have learned."""

from kerasviz import objectives
from kerasviz.attribution import randomized_copy, saliency
from kerasviz.dream import deep_dream
from kerasviz.embedding import embed_2d, image_features, nearest_neighbours
from kerasviz.errors import KerasvizError
from kerasviz.exemplars import dataset_exemplars
from kerasviz.io import load_image
from kerasviz.kernels import kernel_pictures
from kerasviz.models import MODELS, conv_layers, load_model, model_info
from kerasviz.render import visualize_filters
from kerasviz.segmentation import cartoon, colour_regions, segment
from kerasviz.style import style_transfer

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
    "model_info",
    "nearest_neighbours",
    "objectives",
    "randomized_copy",
    "saliency",
    "segment",
    "style_transfer",
    "visualize_filters",
]
