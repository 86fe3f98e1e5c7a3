"""Clients for hardware providers' public HTTP APIs (IonQ, Quantinuum) and the translations they need."""
