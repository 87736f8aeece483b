from contivctl.cli import main

raise SystemExit(main())
