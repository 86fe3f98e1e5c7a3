"""Statevector circuit simulation of the circuits formats/circuits/ reads (IonQ JSON, OpenQASM 2.0, QIR)."""
