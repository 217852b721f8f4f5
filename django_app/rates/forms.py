from django import forms
from django.core.validators import RegexValidator


class RefreshForm(forms.Form):
    base = forms.CharField(
        label="Base currency",
        max_length=3,
        validators=[RegexValidator(r"^[A-Za-z]{3}$", "Use a three-letter code such as EUR.")],
    )

    def clean_base(self) -> str:
        return self.cleaned_data["base"].upper()
