"""LTI 1.3 in the portal: launches from an LMS (Canvas, Moodle, ...), deep linking, and grade
passback through Assignment and Grade Services (docs/lti.md). Built on `pylti1p3`."""

from grader.portal.lti.views import blueprint

__all__ = ["blueprint"]
