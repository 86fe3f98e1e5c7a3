"""Test harness: the dev cluster, namespaces, Azurite and the operator, for integration tests."""
