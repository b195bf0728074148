"""The ``isu`` command line: the top of the house."""
