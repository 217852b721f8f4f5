from django import forms
from django.core.validators import RegexValidator

from django_app.rates.currencies import CURRENCIES


class RefreshForm(forms.Form):
    base = forms.CharField(
        label="Base currency",
        max_length=3,
        validators=[RegexValidator(r"^[A-Za-z]{3}$", "Use a three-letter code such as EUR.")],
    )

    def clean_base(self) -> str:
        base = self.cleaned_data["base"].upper()
        if base not in CURRENCIES:
            raise forms.ValidationError(f"{base} is not a currency code (ISO 4217), such as EUR.")
        return base
