"""The mailings app's Wagtail admin: one viewset per model, grouped under "Mailings"."""
