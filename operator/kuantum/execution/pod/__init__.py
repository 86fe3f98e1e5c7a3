"""The pod backend: solver and simulator targets run as a batch Job of the solver image."""
