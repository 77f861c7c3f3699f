"""Adapting the shipped classifier to one microscope from its operator's labels (``nanoaid models adapt``)."""
