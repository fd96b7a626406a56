"""Chat models: the batching/caching base class and the local transformers model."""
