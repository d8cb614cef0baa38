"""Tools the tests (and bench/) share: the store, a local feed server, newsbot as a process."""
