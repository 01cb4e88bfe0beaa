"""Whole-server migrations: a manifest of mailboxes (manifest.py), each converted in a process
of its own (run.py), sharded over hosts (sharding.py), logged run after run (runlog.py)."""
