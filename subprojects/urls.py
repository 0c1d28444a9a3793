from django.urls import path

from subprojects.views import attachments, calls, evaluation, notes, proposals, subprojects

app_name = "subprojects"

urlpatterns = [
    path("calls/", calls.call_list, name="call-list"),
    path("calls/new/", calls.call_create, name="call-create"),
    path("calls/<int:pk>/", calls.call_detail, name="call-detail"),
    path("calls/<int:pk>/edit/", calls.call_edit, name="call-edit"),
    path("calls/<int:pk>/do/<slug:action>/", calls.call_transition, name="call-transition"),
    path("calls/<int:call_pk>/concept-notes/new/", notes.note_create, name="note-create"),
    path("concept-notes/", notes.note_list, name="note-list"),
    path("concept-notes/<int:pk>/", notes.note_detail, name="note-detail"),
    path("concept-notes/<int:pk>/edit/", notes.note_edit, name="note-edit"),
    path("concept-notes/<int:pk>/do/<slug:action>/", notes.note_transition, name="note-transition"),
    path("concept-notes/<int:pk>/invite/", notes.note_invite, name="note-invite"),
    path("concept-notes/<int:pk>/attachments/", attachments.note_attachment_upload, name="note-attachment"),
    path("proposals/", proposals.proposal_list, name="proposal-list"),
    path("proposals/<int:pk>/", proposals.proposal_detail, name="proposal-detail"),
    path("proposals/<int:pk>/edit/", proposals.proposal_edit, name="proposal-edit"),
    path("proposals/<int:pk>/do/<slug:action>/", proposals.proposal_transition, name="proposal-transition"),
    path("proposals/<int:pk>/award/", proposals.proposal_award, name="proposal-award"),
    path("proposals/<int:pk>/no-objection/", proposals.proposal_no_objection, name="proposal-no-objection"),
    path("proposals/<int:pk>/deadline/", proposals.proposal_deadline, name="proposal-deadline"),
    path(
        "proposals/<int:pk>/attachments/", attachments.proposal_attachment_upload, name="proposal-attachment"
    ),
    path("attachments/<int:pk>/", attachments.attachment_download, name="attachment-download"),
    path("attachments/<int:pk>/delete/", attachments.attachment_delete, name="attachment-delete"),
    path("calls/<int:call_pk>/rubric/", evaluation.rubric, name="rubric"),
    path("tec-meetings/", evaluation.meeting_list, name="meeting-list"),
    path("tec-meetings/new/", evaluation.meeting_form, name="meeting-create"),
    path("tec-meetings/<int:pk>/", evaluation.meeting_detail, name="meeting-detail"),
    path("tec-meetings/<int:pk>/edit/", evaluation.meeting_form, name="meeting-edit"),
    path("tec-meetings/<int:pk>/agenda/", evaluation.meeting_add_to_agenda, name="meeting-agenda"),
    path("tec-meetings/<int:pk>/attendance/", evaluation.meeting_attendance, name="meeting-attendance"),
    path("tec-meetings/<int:pk>/minutes/", evaluation.minutes, name="meeting-minutes"),
    path("tec-meetings/<int:pk>/minutes.pdf", evaluation.minutes_pdf, name="meeting-minutes-pdf"),
    path("tec/my-evaluations/", evaluation.my_evaluations, name="my-evaluations"),
    path("tec/agenda/<int:pk>/", evaluation.agenda_item, name="agenda-item"),
    path("tec/agenda/<int:pk>/declare/", evaluation.declare, name="agenda-declare"),
    path("tec/agenda/<int:pk>/score/", evaluation.score, name="agenda-score"),
    path("tec/agenda/<int:pk>/decision/", evaluation.decide, name="agenda-decision"),
    path("tec/agenda/<int:pk>/acting-chair/", evaluation.acting_chair, name="agenda-acting-chair"),
    path("proposals/<int:pk>/agenda/", evaluation.proposal_to_agenda, name="proposal-agenda"),
    path("conditions/<int:pk>/met/", evaluation.condition_met, name="condition-met"),
    path("conditions/<int:pk>/evidence/", evaluation.condition_evidence, name="condition-evidence"),
    path("sub-projects/", subprojects.sub_project_list, name="subproject-list"),
    path("sub-projects/<int:pk>/", subprojects.sub_project_detail, name="subproject-detail"),
    path("sub-projects/<int:pk>/edit/", subprojects.sub_project_edit, name="subproject-edit"),
    path(
        "sub-projects/<int:pk>/do/<slug:action>/",
        subprojects.sub_project_transition,
        name="subproject-transition",
    ),
]
