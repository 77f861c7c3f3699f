"""Runnable examples of instrument-side subscribers (not plugins: nothing here is an entry point).

    python plugins/examples/print_labels.py --state STATE       # label, decision, coherency per frame
    python plugins/examples/csv_log.py --state STATE log.csv    # append each frame to a CSV, resumable
"""
