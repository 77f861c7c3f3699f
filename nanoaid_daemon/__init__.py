"""NanoAID daemon: labelled, explained, findable SEM frames within a second of saving.

The package has five rooms. Know which one you are in before you change something: contracts are
promises to other programs, so they change only by adding optional fields.

Ingest: a saved file becomes a settled, journalled frame, exactly once.
    ``watcher``      file-system events as hints, the periodic reconcile scan as the truth
    ``settle``       hands a file on only when its writer has finished
    ``journal``      SQLite state of every file and every event (the source of truth)
    ``sqlitedb``     how every SQLite file is opened (WAL, synchronous, busy timeout) and written
    ``daemon``       the main loop: watcher → settle → journal → pipeline → sidecar → event
    ``commit``       the one frame-commit path: a result → journal transition, event, bus signal
    ``frames``       keeps sidecars true to the file beside them (swaps, renames, restores, orphans)
    ``supervise``    supervised threads: none dies silently, none is restarted forever in vain
    ``lockfile``     one daemon per state folder, and folders that do not overlap
    ``paths``        file names as the operating system gives them, stored and shown without loss
    ``hashing``      a frame's id is the sha256 of its bytes
    ``atomic``       crash-safe writes (temp file, fsync, rename)
    ``sdnotify``     systemd readiness and watchdog pings
    ``batch/``       the same pipeline over an existing archive, on many processes

Analysis: one frame through readers and analyzers into a sidecar.
    ``pipeline``     reader → analyzers → sidecar, shared by the daemon, ``process`` and ``batch``
    ``host``         loads enabled plugins once and picks the reader for each file
    ``inference``    one onnxruntime session per model, shared by analyzers
    ``scalefeed``    each view's field width for a classifier that takes one (NaN: unknown)
    ``heap``         fixed allocator thresholds, so frame-sized arrays reuse the heap
    ``batcher``      micro-batching for worker threads that share one model
    ``adaptation/``  fitting the classifier to one microscope from its operator's labels
    ``preprocess``   pixels → model input, as the model card says
    ``modelcard``    the JSON beside each ONNX model
    ``records``      a reader's result → the sidecar's frame, instrument and pages sections
    ``readkit/``     defensive building blocks for reader plugins (the plugins live in ``plugins/``)

Contracts: what other programs and plugins rely on; JSON Schemas in ``schemas/`` are generated.
    ``sidecar``      ``nanoaid.sidecar/1``, one JSON document per frame
    ``events``       ``nanoaid.event/1``, the bus's messages
    ``frame``        what a reader hands the pipeline
    ``states``       file states, outcomes and decisions the frame-commit path agrees on
    ``metadata``     normalised instrument metadata, one fixed unit per field
    ``plugins``      plugin protocols, manifests and discovery
    ``config``       the settings model (``default-config.toml`` lists every key)
    ``errors``       the one exception hierarchy
    ``schema``       regenerates ``schemas/*.json`` from the models
    ``jsonld/``      the sidecar's JSON-LD context: every key mapped to a published term

Outlets: where results go once a frame is committed.
    ``bus/``         ZeroMQ publisher, replay and corrections; ``bus.client`` for instrument software
    ``uploader/``    every frame into a repository exactly once, and the searchable catalogue;
                     ``uploader.crates`` stores each session's RO-Crate as one object too
    ``corrections``  operator labels, kept beside the model's own prediction
    ``exports/``     records a repository ingests: NeXus NXem files and RO-Crates
    ``console/``     the operator's web console beside the microscope (``nanoaid console``)

Tools: commands and offline work, never on the daemon's hot path.
    ``cli``, ``commands/``   the ``nanoaid`` command line, one module per subcommand
    ``synth/``       synthetic SEM frames for demos, tests and training
    ``training/``    retraining and export of the shipped models (``[train]`` extra)
    ``evaluation/``  classifier evaluation on labelled folders
    ``testing``      test-only support: fault injection and ``wait_for``; the daemon never imports it

``client`` and ``chaos`` are former homes kept for existing imports (now ``bus.client`` and ``testing``).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nanoaid-daemon")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
