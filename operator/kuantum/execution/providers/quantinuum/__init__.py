"""Quantinuum (Honeywell): its HTTP API client and the backend that sends programs to it."""
