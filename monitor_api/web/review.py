"""Coordinators' pages: their teams' visits, the visit review (confirm or withdraw findings,
mark reviewed, publish), the printable visit report, and the sync quarantine."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from monitor_api import db, jsonsafe
from monitor_api.errors import ValidationFailed
from monitor_api.facilities.models import Facility
from monitor_api.findings import service as findings
from monitor_api.sync_review import service as quarantine
from monitor_api.visits import service as visits
from monitor_api.visits.models import VISIT_STATUSES
from monitor_api.visits.review import visit_review
from monitor_api.web.session import locale, page, web_principal
from monitor_api.web.views import bp

REVIEWERS = ("admin", "coordinator")


@bp.route("/visits")
@page("admin", "coordinator", "monitor")
def visit_list() -> Any:
    """The visits of the caller's teams (admins: all), newest first."""
    status = request.args.get("status")
    session = db.get_session()
    items, total = visits.list_visits(session, web_principal(), page=1, per_page=200,
                                      status=status if status in VISIT_STATUSES else None)
    names = dict(session.execute(select(Facility.id, Facility.name).where(
        Facility.id.in_({v.facility_id for v in items}))).all())  # the public registry
    return render_template("visits.html", visits=items, total=total, status=status,
                           statuses=VISIT_STATUSES, names=names)


@bp.route("/visits/<uuid:visit_id>")
@page("admin", "coordinator", "monitor")
def visit_page(visit_id: uuid.UUID) -> Any:
    """Review one visit: answers and compliance, rooms, findings, publication."""
    data = visit_review(db.get_session(), web_principal(), visit_id, lang=locale())
    return render_template("review.html", **data)


@bp.route("/visits/<uuid:visit_id>/report")
@page("admin", "coordinator", "monitor")
def visit_report(visit_id: uuid.UUID) -> Any:
    """The printable visit report (print stylesheet)."""
    data = visit_review(db.get_session(), web_principal(), visit_id, lang=locale())
    return render_template("report.html", **data)


@bp.route("/visits/<uuid:visit_id>/status", methods=["POST"])
@page(*REVIEWERS)
def visit_status(visit_id: uuid.UUID) -> Any:
    """Move a visit on (reviewed), publish or unpublish it."""
    session, principal = db.get_session(), web_principal()
    action = request.form.get("action")
    if action == "publish":
        visits.publish(session, principal, visit_id, True)
        flash(_("Published: partners and analysts now see this visit."))
    elif action == "unpublish":
        visits.publish(session, principal, visit_id, False)
        flash(_("Unpublished."))
    elif action in ("reviewed", "in_progress"):
        visits.update_visit(session, principal, visit_id, status=action)
        flash(_("Status changed."))
    else:
        raise ValidationFailed("Unknown action.")
    return redirect(url_for("web.visit_page", visit_id=visit_id))


@bp.route("/findings/<uuid:finding_id>/<any(confirm, withdraw):action>", methods=["POST"])
@page(*REVIEWERS)
def finding_action(finding_id: uuid.UUID, action: str) -> Any:
    """Confirm or withdraw a finding."""
    session, principal = db.get_session(), web_principal()
    if action == "confirm":
        finding = findings.confirm_finding(session, principal, finding_id)
    else:
        reason = (request.form.get("reason") or "").strip()[:2000] or None
        finding = findings.withdraw_finding(session, principal, finding_id, reason=reason)
    flash(_("Finding updated."))
    return redirect(url_for("web.visit_page", visit_id=finding.visit_id) + "#findings")


@bp.route("/quarantine")
@page(*REVIEWERS)
def quarantine_list() -> Any:
    """Records sync refused, waiting for a coordinator of the team."""
    status = request.args.get("status") or "pending"
    items, total = quarantine.list_quarantine(db.get_session(), web_principal(),
                                              status=status if status in (
                                                  "pending", "accepted", "fixed", "discarded",
                                                  "superseded") else "pending",
                                              page=1, per_page=200)
    for item in items:
        item["raw_text"] = json.dumps(item["raw"], ensure_ascii=False, indent=1, sort_keys=True)
    return render_template("quarantine.html", items=items, total=total, status=status)


@bp.route("/quarantine/<uuid:qid>/<any(accept, fix, discard):action>", methods=["POST"])
@page(*REVIEWERS)
def quarantine_action(qid: uuid.UUID, action: str) -> Any:
    """Accept as sent, apply a corrected record, or discard with a reason."""
    session, principal = db.get_session(), web_principal()
    note = (request.form.get("note") or "").strip()[:2000] or None
    if action == "accept":
        quarantine.accept(session, principal, qid, note=note)
    elif action == "discard":
        reason = (request.form.get("reason") or "").strip()[:2000]
        if not reason:
            raise ValidationFailed(_("Say why the record is discarded."))
        quarantine.discard(session, principal, qid, reason=reason)
    else:
        try:
            raw = jsonsafe.loads(request.form.get("raw") or "")
        except ValueError:
            raise ValidationFailed(_("The corrected record is not valid JSON.")) from None
        if not isinstance(raw, dict):
            raise ValidationFailed(_("The corrected record must be a JSON object."))
        quarantine.fix(session, principal, qid, raw, note=note)
    flash(_("Quarantined record: %(action)s done.", action=action))
    return redirect(url_for("web.quarantine_list"))
