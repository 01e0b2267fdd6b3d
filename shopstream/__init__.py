"""shopstream: settings, logging, metrics and the command line shared by every component."""
