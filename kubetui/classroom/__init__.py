"""The classroom: a teacher's class server, learners' links to it, the live dashboard and the gradebook.

No Kubernetes counterpart (issue 17). Learners' kubetui report the lesson
engine's progress events (``lessons/progress.py``) to the teacher's class
server over HTTPS; the server folds them into the dashboard (``model.py``).
"""
