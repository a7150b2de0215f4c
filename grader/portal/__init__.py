"""The course portal (`grader serve`): students upload and read feedback, instructors watch.

`app` (Flask routes for students), `instructor` (dashboard, regrade, exports), `auth`
(sessions, CSRF), `accounts` (roster import, password hashing), `uploads`, `jobs` (the
durable queue and the in-process worker pool), `plots` (server-rendered SVG), `server`
(waitress). Everything durable lives in the course's store.
"""
