"""Pages of the QC laboratory (placeholder)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def _todo(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return HttpResponse(status=404)


portal = request_new = request_detail = request_submit = receive = tests_create = _todo
certificate_issue = incoming = worklist = review_queue = test_detail = result_invalidate = _todo
oos_list = oos_detail = certificate_download = certificate_amend = verify = _todo
