"""Recipes on the engine (kerasviz.optvis): style transfer, feature inversion, textures, DeepDream, class pictures
and fooling images. They declare what to optimise; the engine computes gradients and applies updates."""
