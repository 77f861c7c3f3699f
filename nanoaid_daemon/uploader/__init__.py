"""The uploader: frames, sidecars and previews into a repository, exactly once, and a catalogue.

Rooms in this package:

- ``bundle``     what one frame's upload consists of, assembled from its sidecar
- ``ocfl``       OCFL 1.1 inventories and object layout, shared by every sink
- ``progress``   the uploader's own durable queue and last sequence number (SQLite)
- ``backoff``    capped exponential backoff
- ``service``    the loop: accept events, upload, commit, retry
- ``source``     where events come from (the daemon's client library, or JSON lines)
- ``sinks``      choosing and building a sink plugin from a URL
- ``catalogue``  SQLite + FTS5 index of sidecars; ``query`` its small query language

Submodules are imported where needed so ``import nanoaid_daemon.uploader`` stays cheap.
"""
