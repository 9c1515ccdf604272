"""The tiny ViT builder, now kerasviz.models.vit; re-exported here so the tests that import it keep working."""

from kerasviz.models.vit import ClassToken, PositionEmbedding, build_vit  # noqa: F401
