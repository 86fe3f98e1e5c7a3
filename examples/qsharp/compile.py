"""Compiles Bell.qs to base-profile QIR, as azure-quantum does before submitting a Q# program:
bell.ll (LLVM IR text, readable) and bell.bc (bitcode, what Azure's qir.v1 jobs carry).

    pip install 'kuantum[qsharp]'      # the QDK (package qdk) and pyqir
    python examples/qsharp/compile.py
"""

from __future__ import annotations

from pathlib import Path

import pyqir
from qdk import qsharp

HERE = Path(__file__).resolve().parent

qsharp.init(target_profile=qsharp.TargetProfile.Base)
qsharp.eval((HERE / "Bell.qs").read_text())
text = str(qsharp.compile("Main()"))  # entry point ENTRYPOINT__main
(HERE / "bell.ll").write_text(text)
(HERE / "bell.bc").write_bytes(pyqir.Module.from_ir(pyqir.Context(), text, "bell").bitcode)
print("wrote bell.ll and bell.bc")
