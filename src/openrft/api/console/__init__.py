"""The console: the web pages `openrft serve` shows at `/`, for the people who watch and judge jobs.

Server-rendered Jinja2 templates (templates/) with a little plain JavaScript (static/: no build step,
no Node.js). Pages are another client of the same services: a page renders its first view from the
service functions with the signed-in key's principal, and its scripts then call the public `/v1` API
with the session cookie and the session's CSRF token, so every request the console makes passes the
API's own authorization. See pages.py for sign-in, the security headers and the refusal pages.
"""
