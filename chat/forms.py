"""Forms of the chat pages."""

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator

from agent.events import Mode
from orgs.models import Organization
from topics.models import Topic
from topics.selectors import topic_list


class AskForm(forms.Form):
    """One question typed on the thread page; `chat_id` empty starts a new thread."""

    query = forms.CharField(strip=True)
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.AUTO, required=False)
    chat_id = forms.UUIDField(required=False)
    topic = forms.ModelChoiceField(queryset=Topic.objects.none(), required=False, empty_label="All topics (automatic)")

    def __init__(self, *args: Any, org: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["query"].validators.append(MaxLengthValidator(settings.QUERY_MAX_CHARS))
        self.fields["topic"].queryset = topic_list(org=org)  # type: ignore[attr-defined]

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or Mode.AUTO


class ThreadSearchForm(forms.Form):
    user_id = forms.CharField(required=False, max_length=255, strip=True, label="User ID")
    q = forms.CharField(required=False, max_length=200, strip=True, label="Text")
