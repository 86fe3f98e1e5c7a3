// A Bell pair: H then CNOT, both qubits measured. Returns (Zero, Zero) or (One, One), half the time each.
operation Main() : (Result, Result) {
    use (a, b) = (Qubit(), Qubit());
    H(a);
    CNOT(a, b);
    let results = (M(a), M(b));
    ResetAll([a, b]);
    results
}
