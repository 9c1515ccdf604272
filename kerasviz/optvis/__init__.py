"""The one optimisation engine: objectives, parameterisations, transforms, update rules and the compiled loop."""
