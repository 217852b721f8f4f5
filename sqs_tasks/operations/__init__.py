"""What an operator does when tasks fail: find them, read them, run them again, or drop them.

The management commands are thin shells over these functions, so the same operations
can be scripted or tested without a terminal.
"""
