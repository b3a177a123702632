"""Restricted records: interviews and allegations (full views) and the legal-aid projection."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.common import PageArgs, PageMeta


class InterviewOut(Schema):
    id = fields.UUID()
    visit_id = fields.UUID()
    interviewee_code = fields.String()
    category = fields.String()
    gender = fields.String(allow_none=True)
    age_group = fields.String(allow_none=True)
    is_group = fields.Boolean()
    consent_to_record = fields.Boolean()
    consent_to_refer = fields.Boolean()
    consent_to_publish = fields.Boolean()
    notes = fields.String(allow_none=True)
    conducted_at = fields.DateTime(allow_none=True)
    server_created_at = fields.DateTime()


class AllegationOut(Schema):
    """The whole allegation: the visit's team and admins only."""

    id = fields.UUID()
    visit_id = fields.UUID()
    interview_id = fields.UUID(allow_none=True)
    alleged_when = fields.String(allow_none=True)
    place_description = fields.String(allow_none=True)
    alleged_unit = fields.String(allow_none=True)
    methods = fields.List(fields.String(), allow_none=True)
    injuries_observed = fields.String(allow_none=True)
    medical_exam_requested = fields.Boolean()
    istanbul_consistency = fields.String(allow_none=True)
    consent_legal_aid = fields.Boolean()
    consent_prosecutor = fields.Boolean()
    consent_publication = fields.Boolean()
    reprisal_risk = fields.String(allow_none=True)
    narrative = fields.String(allow_none=True)
    server_created_at = fields.DateTime()


class FacilityRef(Schema):
    id = fields.UUID()
    name = fields.String()
    region = fields.String()
    facility_type = fields.String()


class LegalAidAllegationOut(Schema):
    """What legal aid receives for a referral: no interviewee, interview, visit or team link,
    no publication/prosecutor consents, and the narrative only when the interview's own
    consent to refer agrees (or no interview is linked)."""

    id = fields.UUID()
    facility = fields.Nested(FacilityRef)
    visit_month = fields.String(allow_none=True, metadata={"description": "YYYY-MM"})
    alleged_when = fields.String(allow_none=True)
    place_description = fields.String(allow_none=True)
    alleged_unit = fields.String(allow_none=True)
    methods = fields.List(fields.String(), allow_none=True)
    injuries_observed = fields.String(allow_none=True)
    medical_exam_requested = fields.Boolean()
    istanbul_consistency = fields.String(allow_none=True)
    reprisal_risk = fields.String(allow_none=True)
    narrative = fields.String(allow_none=True)
    narrative_withheld = fields.Boolean()


class AllegationListArgs(PageArgs):
    facility_id = fields.UUID()


def _page(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({"items": fields.List(fields.Nested(item)),
                             "meta": fields.Nested(PageMeta)}, name=name)


InterviewList = _page(InterviewOut, "InterviewList")
AllegationList = _page(AllegationOut, "AllegationList")
LegalAidAllegationList = _page(LegalAidAllegationOut, "LegalAidAllegationList")
