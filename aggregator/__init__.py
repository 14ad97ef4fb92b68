"""The regional office's harvester: sources → fetch → parse → validate → merge → store."""
