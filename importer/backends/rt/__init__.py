"""Request Tracker 5 over REST 2: the backend, its HTTP client, preflight and the dates step."""
