"""Statevector circuit simulation for ionq.circuit.v1 and OpenQASM 2.0 inputs."""
