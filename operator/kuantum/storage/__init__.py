"""Workspaces' blob storage (Azure Quantum's layout) and the connection of each workspace to it."""
