"""Circuit formats: the gate tables, and readers of IonQ JSON, OpenQASM 2 and QIR."""
