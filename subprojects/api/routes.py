from subprojects.api import evaluation, minutes, views

ROUTES = [
    ("calls", views.CallViewSet, "call"),
    ("concept-notes", views.ConceptNoteViewSet, "concept-note"),
    ("proposals", views.ProposalViewSet, "proposal"),
    ("sub-projects", views.SubProjectViewSet, "sub-project"),
    ("attachments", views.AttachmentViewSet, "attachment"),
    ("tec-meetings", minutes.TecMeetingViewSet, "tec-meeting"),
    ("conflict-declarations", evaluation.ConflictDeclarationViewSet, "conflict-declaration"),
    ("scores", evaluation.ScoreSheetViewSet, "score"),
    ("conditions", evaluation.ConditionViewSet, "condition"),
]
