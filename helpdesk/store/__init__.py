"""The store: Peewee models behind a database URL, migrations, extension tables, full-text search.

This package is the bottom layer: it imports nothing from the domain or the front ends.
"""
