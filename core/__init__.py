"""The bottom of the house: the shared data model, errors, configuration and logging.

Nothing in ``core`` imports another package of isu-gateway.
"""
