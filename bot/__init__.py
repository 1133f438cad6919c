"""Restorative Gloucestershire enquiry assistant: the code behind the Rasa actions and the website."""
