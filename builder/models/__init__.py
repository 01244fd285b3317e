"""Base models: bundled catalogue, loading, chat templates, masking, devices, generation, capacity."""
