from kuantum_solvers.cli import main

raise SystemExit(main())
