"""IonQ: its HTTP API client and the backend that sends circuits to it."""
