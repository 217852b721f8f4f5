"""Scheduled maintenance: the periodic tasks that keep the task system and the site tidy.

One module per job; `tasks.py` declares each as a task and its schedule.
"""
