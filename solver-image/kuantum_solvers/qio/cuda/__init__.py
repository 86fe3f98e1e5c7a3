"""CUDA sources of the optional GPU kernels (package data)."""
