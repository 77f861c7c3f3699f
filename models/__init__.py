"""The shipped models: ONNX files, each with its model card (``<name>.card.json``) beside it.

This folder installs as the package ``nanoaid_models``; the daemon finds it through
``importlib.resources`` (``nanoaid_daemon.config.default_models_dir``), so it works the same from a
checkout, an editable install and a wheel. The setting ``models.dir`` points elsewhere.
"""
