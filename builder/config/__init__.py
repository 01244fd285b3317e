"""The recipe (schema, loading, overrides) and the path markers that confine it."""
