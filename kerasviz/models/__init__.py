"""Models: the keras.applications catalogue, loading (weights, model files), inputs and preprocessing, layers by
path through nested models, feature models, receptive fields and compute precision."""

from kerasviz.models.catalogue import (
    MODEL_FILE_EXTENSIONS,
    MODELS,
    PREPROCESSING,
    ModelInfo,
    ModelSpec,
    check_preprocessing,
    is_model_file,
    model_cache,
    model_facts,
    model_info,
    set_model_info,
)
from kerasviz.models.inputs import (
    LUMA_WEIGHTS,
    adapt_channels,
    fixed_input_size,
    image_input_shape,
    input_channels,
    preprocess_fn,
)
from kerasviz.models.layers import (
    SQUASHING,
    STAGE_PROBE_SIZE,
    conv_layers,
    conv_stages,
    feature_model,
    get_layer,
    last_conv,
    layer_paths,
    model_errors,
    num_channels,
    output_names,
    receptive_field,
    receptive_field_at,
    resolve_layer,
    resolve_output,
    squashes,
)
from kerasviz.models.loading import load_model

__all__ = [
    "LUMA_WEIGHTS", "MODELS", "MODEL_FILE_EXTENSIONS", "PREPROCESSING", "SQUASHING", "STAGE_PROBE_SIZE", "ModelInfo",
    "ModelSpec",
    "adapt_channels", "check_preprocessing", "conv_layers", "conv_stages", "feature_model", "fixed_input_size",
    "get_layer", "image_input_shape", "input_channels", "is_model_file", "last_conv", "layer_paths", "load_model",
    "model_cache", "model_errors", "model_facts", "model_info", "num_channels", "output_names", "preprocess_fn",
    "receptive_field", "receptive_field_at", "resolve_layer", "resolve_output", "set_model_info", "squashes",
]
