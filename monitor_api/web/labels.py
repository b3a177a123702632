"""Codes the pages show through gettext (`_(code)`), listed here so that message extraction
finds them: every language — English included — gives each code a readable label."""

from __future__ import annotations


def N_(code: str) -> str:
    return code


CODES = [
    # regions
    N_("TJ-DU"), N_("TJ-SU"), N_("TJ-KT"), N_("TJ-GB"), N_("TJ-RR"),
    # facility types
    N_("police_custody"), N_("pretrial_detention"), N_("penal_colony"),
    N_("settlement_colony"), N_("prison"), N_("juvenile_colony"), N_("prison_hospital"),
    N_("psychiatric_hospital"), N_("narcology_centre"), N_("social_care_home"),
    N_("children_institution"), N_("military_disciplinary_unit"),
    N_("security_service_detention"), N_("migrant_detention"), N_("other"),
    # authorities
    N_("ministry_of_justice"), N_("ministry_of_interior"), N_("state_security"),
    N_("ministry_of_defence"), N_("ministry_of_health_social"), N_("ministry_of_education"),
    N_("drug_control_agency"),
    # roles
    N_("admin"), N_("coordinator"), N_("monitor"), N_("partner"), N_("analyst"),
    N_("legal_aid"),
    # visits
    N_("planned"), N_("in_progress"), N_("submitted"), N_("reviewed"), N_("reported"),
    N_("in_depth"), N_("thematic"), N_("follow_up"), N_("reactive"),
    # findings and recommendations
    N_("critical_urgent"), N_("serious"), N_("moderate"), N_("minor"), N_("good_practice"),
    N_("draft"), N_("confirmed"), N_("withdrawn"),
    N_("implemented"), N_("partially_implemented"), N_("not_implemented"),
    N_("counteracted"), N_("no_longer_relevant"), N_("not reviewed yet"),
    # checklist sections and information sources
    N_("treatment"), N_("safeguards"), N_("material_conditions"), N_("regime_activities"),
    N_("health_care"), N_("personnel"), N_("women"), N_("children"),
    N_("observation"), N_("detainee"), N_("staff"), N_("management"), N_("document"),
    # rooms and access incidents
    N_("cell"), N_("dormitory"), N_("disciplinary_cell"), N_("medical"), N_("visiting"),
    N_("refused"), N_("delayed"), N_("restricted"),
    # quarantine
    N_("pending"), N_("accepted"), N_("fixed"), N_("discarded"), N_("superseded"),
    # thresholds and capacity
    N_("tj_law"), N_("cpt"), N_("icrc"), N_("declared"), N_("official"),
    # indicators (what changed)
    N_("population_total"), N_("occupancy_rate"), N_("space_min_m2"), N_("space_median_m2"),
    N_("rooms_below_tj_law"), N_("rooms_below_cpt"), N_("rooms_below_icrc"),
    N_("compliance_rate"), N_("findings_total"), N_("access_incidents_total"),
    N_("recommendations_open"), N_("recommendations_repeated"), N_("implementation_rate"),
    N_("findings"),
    # export datasets
    N_("visits"), N_("answers"), N_("recommendations"), N_("room_inspections"),
    N_("indicators"),
]
