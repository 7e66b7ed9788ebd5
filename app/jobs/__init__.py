"""The job runner: attack jobs queued from the tuning page, run outside every gunicorn worker.

``python -m app.jobs --url URL`` claims jobs from the queue (``app.core.jobs``)
and runs each attack as a real client over HTTP, under a throwaway user whose
own defence is the candidate spec, so what real users get never changes.
gunicorn's master starts it once it is listening (``gunicorn.conf.py``).
"""
