"""Callback requests: reading the form's replies, phone numbers, references, the store, notifications,
the staff command line."""
