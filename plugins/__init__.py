"""First-party NanoAID plugins (installed as ``nanoaid_plugins``), one folder each."""
