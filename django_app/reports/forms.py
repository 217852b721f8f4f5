"""What a user picks for a report: the columns to group rows by."""

from typing import Any

from django import forms

from django_app.reports.aggregate import MAX_GROUP_COLUMNS


class GroupingForm(forms.Form):
    group_by = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Group rows by",
        help_text=f"Up to {MAX_GROUP_COLUMNS} columns; none gives one line of totals.",
    )

    def __init__(self, *args: Any, columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_by"].choices = [(name, name) for name in columns]

    def clean_group_by(self) -> list[str]:
        chosen = self.cleaned_data["group_by"]
        if len(chosen) > MAX_GROUP_COLUMNS:
            raise forms.ValidationError(f"Pick at most {MAX_GROUP_COLUMNS} columns.")
        return chosen
